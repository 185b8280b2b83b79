// The pages: /forgot-password/, /reset-password/ and /accept-invite/. Plain
// script, no build step. It talks to the JSON API of the same origin and
// never shows or keeps a reset or invitation token anywhere but in memory.
'use strict';

(function () {
  var body = document.body;
  // The server renders the policy's minimum here (internal/web).
  var minLength = Number(body.getAttribute('data-min-length'));
  var announcer = document.getElementById('announce');

  // announce tells screen readers what just happened. Emptying the region
  // first makes the same message heard again when it repeats.
  function announce(message) {
    announcer.textContent = '';
    window.setTimeout(function () { announcer.textContent = message; }, 60);
  }

  // show makes one panel visible, hides the others and moves focus into it
  // so keyboard and screen reader users land on what changed.
  function show(id, focusTarget) {
    var panels = document.querySelectorAll('.panel');
    for (var i = 0; i < panels.length; i++) {
      panels[i].hidden = panels[i].id !== id;
    }
    var panel = document.getElementById(id);
    var target = focusTarget || panel.querySelector('h1');
    if (target) {
      target.focus();
    }
    return panel;
  }

  function secondsText(n) {
    if (n >= 120) {
      return Math.ceil(n / 60) + ' minutes';
    }
    return n + (n === 1 ? ' second' : ' seconds');
  }

  // problem says what went wrong with an answer the caller did not expect.
  function problem(res) {
    var wait = res.retryAfter > 0 ? 'Try again in ' + secondsText(res.retryAfter) + '.' : 'Try again in a moment.';
    if (res.status === 429) {
      return 'Too many attempts. ' + wait;
    }
    if (res.status === 503) {
      return 'The service is busy right now. ' + wait;
    }
    return 'Something went wrong on our side. Try again in a moment.';
  }

  var networkProblem = 'We could not reach the server. Check your connection and try again.';

  // api sends one JSON request and returns {status, data, retryAfter}; it
  // rejects only when the server could not be reached.
  function api(method, path, payload) {
    var init = {
      method: method,
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer'
    };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    return fetch(path, init).then(function (res) {
      var retryAfter = Number(res.headers.get('Retry-After')) || 0;
      var done = function (data) { return { status: res.status, data: data, retryAfter: retryAfter }; };
      if (res.status === 204) {
        return done(null);
      }
      return res.json().then(done, function () { return done(null); });
    });
  }

  function firstMessage(data, field) {
    var list = data && data[field];
    return Array.isArray(list) && typeof list[0] === 'string' ? list[0] : '';
  }

  // Field errors: the message sits under the field, the field is marked
  // invalid and described by it, focus goes to it, and the message is
  // announced.
  function describedBy(input, id, on) {
    var ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(function (x) { return x && x !== id; });
    if (on) {
      ids.unshift(id);
    }
    if (ids.length) {
      input.setAttribute('aria-describedby', ids.join(' '));
    } else {
      input.removeAttribute('aria-describedby');
    }
  }

  function fieldError(input, message) {
    var err = document.getElementById(input.id + '-error');
    err.querySelector('[data-msg]').textContent = message;
    err.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    describedBy(input, err.id, true);
  }

  function clearFieldError(input) {
    var err = document.getElementById(input.id + '-error');
    if (!err) {
      return;
    }
    err.querySelector('[data-msg]').textContent = '';
    err.hidden = true;
    input.removeAttribute('aria-invalid');
    describedBy(input, err.id, false);
  }

  function formAlert(form, message) {
    var box = form.querySelector('[data-alert]');
    box.querySelector('[data-msg]').textContent = message;
    box.hidden = !message;
    if (message) {
      announce(message);
    }
  }

  function clearForm(form) {
    formAlert(form, '');
    var inputs = form.querySelectorAll('input');
    for (var i = 0; i < inputs.length; i++) {
      clearFieldError(inputs[i]);
    }
  }

  // busy disables a form's submit button while its request runs, so a
  // double click sends one request.
  function busy(form, on) {
    var button = form.querySelector('[type=submit]');
    if (on) {
      button.setAttribute('data-label', button.textContent);
      button.textContent = button.getAttribute('data-busy-label') || button.textContent;
      button.disabled = true;
      form.setAttribute('aria-busy', 'true');
    } else {
      button.textContent = button.getAttribute('data-label') || button.textContent;
      button.disabled = false;
      form.removeAttribute('aria-busy');
    }
  }

  function fail(form, input, message) {
    fieldError(input, message);
    announce(message);
    input.focus();
  }

  function clearOnInput(form) {
    form.addEventListener('input', function (ev) {
      if (ev.target.getAttribute('aria-invalid')) {
        clearFieldError(ev.target);
      }
    });
  }

  // The request form: the same neutral answer whatever the address, so the
  // page never tells who has an account (and never shows a token, which the
  // sandbox API returns).
  function setupRequestForm() {
    var form = document.getElementById('request-form');
    if (!form) {
      return;
    }
    var email = document.getElementById('email');
    var sentEmail = document.getElementById('sent-email');
    clearOnInput(form);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (form.getAttribute('aria-busy')) {
        return;
      }
      clearForm(form);
      var address = email.value.trim();
      if (!address) {
        fail(form, email, 'Enter the e-mail address of your account.');
        return;
      }
      if (!/^[^\s@]+@[^\s@]+$/.test(address)) {
        fail(form, email, 'Enter a valid e-mail address, like name@example.com.');
        return;
      }
      busy(form, true);
      api('POST', '/organizations/reset-password/', { email: address }).then(function (res) {
        busy(form, false);
        if (res.status === 200 || res.status === 422) {
          sentEmail.textContent = address;
          show('sent');
          announce('Check your inbox. If an active account uses ' + address + ', a reset link is on its way.');
          return;
        }
        var why = res.status === 400 && firstMessage(res.data, 'email');
        if (why) {
          fail(form, email, why);
          return;
        }
        formAlert(form, problem(res));
      }, function () {
        busy(form, false);
        formAlert(form, networkProblem);
      });
    });
    var again = document.querySelector('[data-action=again]');
    again.addEventListener('click', function () {
      show(form.closest('.panel').id, email);
      email.select();
    });
  }

  function setupForgotPage() {
    setupRequestForm();
  }

  // The password form of the reset and accept-invite pages: show/hide, the
  // strength meter and the checks made before anything is sent. submit(pw)
  // runs once those pass. It returns what the page's answer needs: the form,
  // its password field, and done(), which empties the fields once the
  // password is set.
  function setupPasswordForm(submit) {
    var choose = document.getElementById('choose-form');
    var password = document.getElementById('password');
    var confirm = document.getElementById('confirm');
    var toggle = document.getElementById('show-passwords');
    toggle.addEventListener('change', function () {
      var type = toggle.checked ? 'text' : 'password';
      password.type = type;
      confirm.type = type;
    });
    clearOnInput(choose);

    // The strength meter judges only length and variety, in the browser; the
    // password is never sent anywhere for it. It follows the server policy
    // (internal/password): at least minLength code points after NFKC, at
    // most 256 (the input's maxlength), common passwords refused by the
    // server alone. Levels, with n code points and c character classes
    // (lower case, upper case, digits, anything else):
    //   n < min                              Too short
    //   min <= n <= min+4                    Fair
    //   min+5 <= n <= min+11                 Good
    //   n >= min+12, or n >= min+4 and c >= 3   Strong
    // The label's live region is rewritten only when the level changes, so
    // screen readers hear one message per level, not one per key.
    var strengthLabels = ['Too short', 'Fair', 'Good', 'Strong'];
    var strengthBar = choose.querySelector('[data-strength]');
    var strengthLabel = choose.querySelector('[data-strength-label]');
    var strengthLevel = -1;
    function strength(pw) {
      var n = Array.from(pw.normalize('NFKC')).length;
      var classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter(function (re) { return re.test(pw); }).length;
      if (n < minLength) {
        return 0;
      }
      if (n >= minLength + 12 || (n >= minLength + 4 && classes >= 3)) {
        return 3;
      }
      return n >= minLength + 5 ? 2 : 1;
    }
    function updateStrength() {
      var level = strength(password.value);
      // The bar shows nothing for an empty field, one segment per level else.
      var filled = password.value ? level + 1 : 0;
      for (var i = 0; i <= 4; i++) {
        strengthBar.classList.toggle('strength-' + i, i === filled);
      }
      if (level !== strengthLevel) {
        strengthLevel = level;
        strengthLabel.textContent = strengthLabels[level];
      }
    }
    password.addEventListener('input', updateStrength);
    updateStrength();

    choose.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (choose.getAttribute('aria-busy')) {
        return;
      }
      clearForm(choose);
      var pw = password.value;
      if (Array.from(pw.normalize('NFKC')).length < minLength) {
        fail(choose, password, 'This password is too short. It must contain at least ' + minLength + ' characters.');
        return;
      }
      if (confirm.value !== pw) {
        fail(choose, confirm, 'The passwords do not match. Type the same password in both fields.');
        return;
      }
      submit(pw);
    });
    return {
      form: choose,
      password: password,
      done: function () {
        password.value = '';
        confirm.value = '';
        updateStrength();
      }
    };
  }

  // sendPassword posts the new password with busy state and shows the
  // answer: ok() on 204, the policy's reason under the field on 400, gone()
  // on 404, else what went wrong.
  function sendPassword(pf, path, payload, ok, gone) {
    busy(pf.form, true);
    api('POST', path, payload).then(function (res) {
      busy(pf.form, false);
      if (res.status === 204) {
        pf.done();
        ok();
        return;
      }
      var why = res.status === 400 && firstMessage(res.data, 'password');
      if (why) {
        fail(pf.form, pf.password, why);
        return;
      }
      if (res.status === 404) {
        gone();
        return;
      }
      formAlert(pf.form, problem(res));
    }, function () {
      busy(pf.form, false);
      formAlert(pf.form, networkProblem);
    });
  }

  // readToken reads a token from the fragment, which browsers never send to
  // a server, then takes it out of the address bar and history.
  function readToken(name) {
    var params = new URLSearchParams(window.location.hash.slice(1));
    if (window.location.hash) {
      window.history.replaceState(null, '', window.location.pathname + window.location.search);
    }
    return params.get(name) || '';
  }

  // showReason shows the panel id with only its parts for reason.
  function showReason(id, reason) {
    var parts = document.querySelectorAll('#' + id + ' [data-reason]');
    for (var i = 0; i < parts.length; i++) {
      parts[i].hidden = parts[i].getAttribute('data-reason') !== reason;
    }
    show(id);
  }

  function setupResetPage() {
    setupRequestForm();

    // The token is in the fragment, which browsers never send to a server.
    // Read it once, then take it out of the address bar and history.
    var token = '';
    var revokeToken = '';
    function readFragment() {
      var params = new URLSearchParams(window.location.hash.slice(1));
      token = params.get('token') || '';
      revokeToken = params.get('revoke') || '';
      if (window.location.hash) {
        window.history.replaceState(null, '', window.location.pathname + window.location.search);
      }
    }

    function showInvalid(reason) {
      showReason('invalid', reason);
    }

    // check asks whether the token is live without spending it: only the
    // final POST spends it, because mail scanners open links too. The token
    // goes in the body, never in a URL, which proxies and access logs keep.
    function check() {
      show('checking');
      api('POST', '/organizations/validate-password-reset/', { token: token }).then(function (res) {
        if (res.status === 200 && res.data && typeof res.data.email === 'string') {
          document.getElementById('username').value = res.data.email;
          show('choose', document.getElementById('password'));
          return;
        }
        if (res.status === 404 || res.status === 400) {
          token = '';
          showInvalid('expired');
          return;
        }
        document.getElementById('trouble-message').textContent = problem(res);
        show('trouble');
      }, function () {
        document.getElementById('trouble-message').textContent = networkProblem;
        show('trouble');
      });
    }
    document.querySelector('[data-action=retry]').addEventListener('click', check);

    var pf = setupPasswordForm(function (pw) {
      sendPassword(pf, '/organizations/complete-password/', { password: pw, token: token }, function () {
        token = '';
        show('done');
        announce('Password changed. You can now sign in with your new password.');
      }, function () {
        token = '';
        showInvalid('expired');
        announce('This link has expired. Ask for a new one.');
      });
    });

    var revoke = document.getElementById('revoke-form');
    revoke.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (revoke.getAttribute('aria-busy')) {
        return;
      }
      clearForm(revoke);
      busy(revoke, true);
      api('POST', '/organizations/revoke-password-reset/', { token: revokeToken }).then(function (res) {
        busy(revoke, false);
        if (res.status === 204) {
          revokeToken = '';
          show('revoked');
          announce('The request was cancelled.');
          return;
        }
        if (res.status === 404 || res.status === 400) {
          revokeToken = '';
          show('revoke-gone');
          return;
        }
        formAlert(revoke, problem(res));
      }, function () {
        busy(revoke, false);
        formAlert(revoke, networkProblem);
      });
    });

    function start() {
      readFragment();
      if (revokeToken) {
        show('revoke');
      } else if (token) {
        check();
      } else {
        showInvalid('missing');
      }
    }
    // A link opened while the page is already open changes only the
    // fragment: start over with it.
    window.addEventListener('hashchange', function () {
      if (window.location.hash) {
        start();
      }
    });
    start();
  }

  // The accept-invite page: the invitation link's token is checked without
  // being spent (the check of an expired one sends a fresh invitation), then
  // the chosen password activates the account. The token goes in request
  // bodies only, never in a URL.
  function setupAcceptPage() {
    var token = '';

    function check() {
      show('checking');
      api('POST', '/organizations/validate-invite/', { token: token }).then(function (res) {
        if (res.status === 200 && res.data && typeof res.data.email === 'string') {
          document.getElementById('username').value = res.data.email;
          show('choose', document.getElementById('password'));
          return;
        }
        if (res.status === 201 && res.data && typeof res.data.email === 'string') {
          // Never the sandbox's fresh token: the person gets it by mail.
          token = '';
          document.getElementById('renewed-email').textContent = res.data.email;
          show('renewed');
          announce('This invitation has expired. A new one was sent to ' + res.data.email + '.');
          return;
        }
        if (res.status === 404 || res.status === 400) {
          token = '';
          showReason('invalid', 'used');
          return;
        }
        document.getElementById('trouble-message').textContent = problem(res);
        show('trouble');
      }, function () {
        document.getElementById('trouble-message').textContent = networkProblem;
        show('trouble');
      });
    }
    document.querySelector('[data-action=retry]').addEventListener('click', check);

    var pf = setupPasswordForm(function (pw) {
      sendPassword(pf, '/organizations/accept-invite/', { token: token, password: pw }, function () {
        token = '';
        show('done');
        announce('Your account is ready. You can now sign in.');
      }, function () {
        // Expired meanwhile, or accepted from another tab: check again,
        // which says which.
        check();
      });
    });

    function start() {
      token = readToken('token');
      if (token) {
        check();
      } else {
        showReason('invalid', 'missing');
      }
    }
    window.addEventListener('hashchange', function () {
      if (window.location.hash) {
        start();
      }
    });
    start();
  }

  var page = body.getAttribute('data-page');
  if (page === 'forgot') {
    setupForgotPage();
  } else if (page === 'reset') {
    setupResetPage();
  } else if (page === 'accept') {
    setupAcceptPage();
  }
}());
