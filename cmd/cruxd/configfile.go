package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Settings come from four places; the first that gives one wins: the
// command line, the environment (CRUXD_X, or the contents of the file that
// CRUXD_X_FILE names, for secrets that should not sit in the environment),
// the YAML file of --config (keys are the flags' names), the defaults.

// applySources gives every flag of fs that the command line left unset its
// value from the environment, else from the config file.
func applySources(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		var v, from string
		if v, from, err = fromEnv(f.Name, getenv); err != nil || from == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("%w: %s: %v", errUsage, from, e)
		}
		set[f.Name] = true
	})
	if err != nil {
		return err
	}
	path := getenv(envName("config"))
	if f := fs.Lookup("config"); f != nil {
		path = f.Value.String()
	}
	if path == "" {
		return nil
	}
	return applyConfigFile(fs, path, set)
}

// fromEnv returns the environment's value for the flag name and where it
// came from ("" when the environment has none). A secret's value is never
// part of an error.
func fromEnv(name string, getenv func(string) string) (v, from string, err error) {
	key := envName(name)
	v, file := getenv(key), getenv(key+"_FILE")
	switch {
	case v != "" && file != "":
		return "", "", fmt.Errorf("%w: both %s and %s_FILE are set: keep one", errUsage, key, key)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", fmt.Errorf("%w: %s_FILE: %v", errUsage, key, err)
		}
		return strings.TrimRight(string(b), "\r\n"), key + "_FILE " + file, nil
	case v != "":
		return v, key, nil
	}
	return "", "", nil
}

// applyConfigFile sets the flags of fs that are not in set from the YAML
// mapping in the file at path. A key that names no setting of cruxd is
// refused with its line, so that a typing error cannot pass unnoticed; keys
// that are settings of other commands are ignored here.
func applyConfigFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: --config: %v", errUsage, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%w: --config %s: %v", errUsage, path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: %s:%d: want a mapping of setting names to values", errUsage, path, m.Line)
	}
	known := settingNames()
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		f := fs.Lookup(k.Value)
		if (!known[k.Value] && f == nil) || k.Value == "config" {
			return fmt.Errorf("%w: %s:%d: unknown setting %q (the keys are the flags' names, as in cruxd serve --help)", errUsage, path, k.Line, k.Value)
		}
		if f == nil || set[k.Value] {
			continue
		}
		var vals []string
		switch v.Kind {
		case yaml.ScalarNode:
			vals = []string{v.Value}
		case yaml.SequenceNode:
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return fmt.Errorf("%w: %s:%d: %s: want a value or a list of values", errUsage, path, e.Line, k.Value)
				}
				vals = append(vals, e.Value)
			}
		default:
			return fmt.Errorf("%w: %s:%d: %s: want a value or a list of values", errUsage, path, v.Line, k.Value)
		}
		for _, s := range vals {
			if err := fs.Set(k.Value, s); err != nil {
				return fmt.Errorf("%w: %s:%d: %s: %v", errUsage, path, v.Line, k.Value, err)
			}
		}
	}
	return nil
}

// settingNames returns the name of every setting a config file may hold:
// the flags of serve, which include those every command shares.
func settingNames() map[string]bool {
	names := map[string]bool{}
	newFlagSet("serve", new(config), serveFlags, io.Discard).VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}
