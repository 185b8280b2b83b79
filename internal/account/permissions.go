package account

// Permission is an entry of the permission catalogue.
type Permission struct {
	UUID        string
	Name        string
	DisplayName string
	Description string
	Visibility  string // VisibilityBoth, VisibilityRetailer or VisibilitySupplier
	Grouping    string
}

// Permission names used by the rules of this package.
const (
	PermViewOrgUsers = "view_org_users"
	PermEditOrgUsers = "edit_org_users"
)

// Visibilities: which organization types may hold a permission.
const (
	VisibilityBoth     = "BOTH"
	VisibilityRetailer = "RETAILER"
	VisibilitySupplier = "SUPPLIER"
)

// catalogue is every permission of the Crux docs' permissions page, in
// display order: common ones first, then retailer-only, then supplier-only.
// The UUIDs are written down once and never change, so that clients may
// cache them and every database and release agrees on them. Two are the
// ones of the docs' Add and Remove User Permissions examples, so that those
// requests work as written against the sandbox.
var catalogue = []Permission{
	{"5b0f1c3e-2f0b-4a5e-9a51-2d1c3f7a8b01", PermViewOrgUsers, "View Users",
		"Ability to see the users in an organization", VisibilityBoth, "ORGUSERS"},
	{"5b0f1c3e-2f0b-4a5e-9a51-2d1c3f7a8b02", PermEditOrgUsers, "Edit Users",
		"Ability to add, change and deactivate the users in an organization", VisibilityBoth, "ORGUSERS"},
	{"f814f6f3-47b5-4cd4-991e-c56858021217", "view_org_subscription_plan", "View Subscription Plan",
		"View the subscription plan info for an organization", VisibilityBoth, "ORGSUB"},
	{"1b614108-d6bd-4982-b284-73857a42063d", "edit_org_subscription_plan", "Edit Subscription Plan",
		"Change the subscription plan of an organization", VisibilityBoth, "ORGSUB"},
	{"493baa98-4da1-4ae2-bda0-41c9d3305093", "view_payment_info", "View Payment Info",
		"View the payment information of an organization", VisibilityBoth, "PAYMENT"},
	{"4cd9c37b-6ba2-4b60-a38c-03129081cab3", "edit_payment_info", "Edit Payment Info",
		"Change the payment information of an organization", VisibilityBoth, "PAYMENT"},
	{"c0b9f2ca-2cf9-4732-8486-f2b0fc5f605a", "view_billing_statement", "View Billing Statement",
		"View the billing statements of an organization", VisibilityBoth, "BILLING"},
	{"b0181440-4bfe-4f74-a687-b4c9944fc96a", "view_notifications_settings", "View Notification Settings",
		"View the notification settings", VisibilityBoth, "NOTIFICATIONS"},
	{"d48b1996-df12-4b14-aa17-975980c68f4d", "edit_email_notifications_preferences", "Edit Email Notification Preferences",
		"Change which e-mail notifications are sent and how often", VisibilityBoth, "NOTIFICATIONS"},
	{"b19ae26d-5764-4179-b907-ba6657bddf43", "cancel_order", "Cancel Order",
		"Cancel an order", VisibilityBoth, "ORDERS"},
	{"2a0295b6-dd74-4239-9988-24fcdb1adcea", "view_order", "View Order",
		"View orders", VisibilityBoth, "ORDERS"},
	{"e480c987-1ac6-4644-b0af-1c9175ea76c6", "export_order", "Export Order",
		"Export orders", VisibilityBoth, "ORDERS"},
	{"05a46c58-9d13-4912-9167-7effc2cc7482", "view_items", "View Items",
		"View items", VisibilityBoth, "ITEMS"},

	{"5b93c252-51c7-4fbe-8b5b-91f4cb18e2b2", "create_order", "Create Order",
		"Place orders", VisibilityRetailer, "ORDERS"},
	{"3b9b3df1-15a0-4d14-a2ed-35c606dbb017", "view_inventory_lists", "View Inventory Lists",
		"View inventory lists", VisibilityRetailer, "INVENTORY"},
	{"5d330e7f-c147-4b2a-b993-42cb9e236cd9", "edit_inventory_lists", "Edit Inventory Lists",
		"Create and change inventory lists", VisibilityRetailer, "INVENTORY"},

	{"ae0441fe-48d9-491e-af1d-1f3eab493ea6", "edit_items", "Edit Items",
		"Create and change items", VisibilitySupplier, "ITEMS"},
	{"15ae257b-957c-4ec9-b4e6-962c07343840", "add_order_tracking", "Add Order Tracking",
		"Add tracking information to orders", VisibilitySupplier, "ORDERS"},
	{"4e5f68bf-031c-4b61-ac76-328771359f7b", "allocate_order", "Allocate Order",
		"Allocate orders", VisibilitySupplier, "ORDERS"},
	{"e7705aa6-9bc0-4432-89b3-8973374fffd4", "view_supplier_catalogs", "View Supplier Catalogs",
		"View supplier catalogs", VisibilitySupplier, "CATALOGS"},
	{"4bad1b15-a186-4021-8188-9c36251b12a0", "edit_supplier_catalogs", "Edit Supplier Catalogs",
		"Create and change supplier catalogs", VisibilitySupplier, "CATALOGS"},
}

// byType holds PermissionsFor's answers, computed once.
var byType = map[OrgType][]Permission{
	Retailer: filterCatalogue(VisibilityRetailer),
	Supplier: filterCatalogue(VisibilitySupplier),
}

func filterCatalogue(visibility string) []Permission {
	var out []Permission
	for _, p := range catalogue {
		if p.Visibility == VisibilityBoth || p.Visibility == visibility {
			out = append(out, p)
		}
	}
	return out
}

// PermissionsFor returns the permissions an organization of type t may
// hold, in display order; none for an unknown type.
func PermissionsFor(t OrgType) []Permission { return append([]Permission(nil), byType[t]...) }

// PermissionByUUID returns the permission with that uuid if an organization
// of type t may hold it.
func PermissionByUUID(t OrgType, uuid string) (Permission, bool) {
	for _, p := range byType[t] {
		if p.UUID == uuid {
			return p, true
		}
	}
	return Permission{}, false
}

// PermissionByName returns the catalogue entry with that name, of either
// organization type.
func PermissionByName(name string) (Permission, bool) {
	for _, p := range catalogue {
		if p.Name == name {
			return p, true
		}
	}
	return Permission{}, false
}

// Allows reports whether an organization of type t may hold the permission.
func (p Permission) Allows(t OrgType) bool {
	return p.Visibility == VisibilityBoth || p.Visibility == string(t)
}
