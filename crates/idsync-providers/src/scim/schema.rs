//! The attributes idsync serves (RFC 7643 §4 and §8.7): what `/Schemas`
//! announces, and what attribute paths, PATCH and projections check
//! against. Attribute names are matched without regard to case and stored
//! in the spelling given here.

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Complex,
    Reference,
    Binary,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Complex => "complex",
            Self::Reference => "reference",
            Self::Binary => "binary",
        }
    }
}

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    /// `readWrite`, `writeOnly`, …
    pub mutability: &'static str,
    /// `default`, `never`, …
    pub returned: &'static str,
    /// `none` or `server`.
    pub uniqueness: &'static str,
    pub reference_types: &'static [&'static str],
    pub sub: &'static [Attr],
}

const fn s(name: &'static str) -> Attr {
    Attr {
        name,
        ty: Type::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        reference_types: &[],
        sub: &[],
    }
}

const fn boolean(name: &'static str) -> Attr {
    Attr {
        ty: Type::Boolean,
        ..s(name)
    }
}

const fn reference(name: &'static str, to: &'static [&'static str]) -> Attr {
    Attr {
        ty: Type::Reference,
        reference_types: to,
        ..s(name)
    }
}

const fn complex(name: &'static str, sub: &'static [Attr]) -> Attr {
    Attr {
        ty: Type::Complex,
        sub,
        ..s(name)
    }
}

const fn multi(name: &'static str, sub: &'static [Attr]) -> Attr {
    Attr {
        multi: true,
        ..complex(name, sub)
    }
}

/// `value`, `display`, `type`, `primary`: the usual multi-valued shape.
const PLAIN_MULTI: &[Attr] = &[s("value"), s("display"), s("type"), boolean("primary")];

pub static USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        uniqueness: "server",
        ..s("userName")
    },
    complex(
        "name",
        &[
            s("formatted"),
            s("familyName"),
            s("givenName"),
            s("middleName"),
            s("honorificPrefix"),
            s("honorificSuffix"),
        ],
    ),
    s("displayName"),
    s("nickName"),
    reference("profileUrl", &["external"]),
    s("title"),
    s("userType"),
    s("preferredLanguage"),
    s("locale"),
    s("timezone"),
    boolean("active"),
    Attr {
        mutability: "writeOnly",
        returned: "never",
        case_exact: true,
        ..s("password")
    },
    multi("emails", PLAIN_MULTI),
    multi("phoneNumbers", PLAIN_MULTI),
    multi("ims", PLAIN_MULTI),
    multi(
        "photos",
        &[
            reference("value", &["external"]),
            s("display"),
            s("type"),
            boolean("primary"),
        ],
    ),
    multi(
        "addresses",
        &[
            s("formatted"),
            s("streetAddress"),
            s("locality"),
            s("region"),
            s("postalCode"),
            s("country"),
            s("type"),
            boolean("primary"),
        ],
    ),
    multi("entitlements", PLAIN_MULTI),
    multi("roles", PLAIN_MULTI),
    multi(
        "x509Certificates",
        &[
            Attr {
                ty: Type::Binary,
                case_exact: true,
                ..s("value")
            },
            s("display"),
            s("type"),
            boolean("primary"),
        ],
    ),
];

pub static ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber"),
    s("costCenter"),
    s("organization"),
    s("division"),
    s("department"),
    complex(
        "manager",
        &[
            s("value"),
            reference("$ref", &["User"]),
            Attr {
                mutability: "readOnly",
                ..s("displayName")
            },
        ],
    ),
];

pub static GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        ..s("displayName")
    },
    multi(
        "members",
        &[
            Attr {
                mutability: "immutable",
                ..s("value")
            },
            Attr {
                mutability: "immutable",
                ..s("display")
            },
            Attr {
                mutability: "immutable",
                ..reference("$ref", &["User", "Group"])
            },
            Attr {
                mutability: "immutable",
                ..s("type")
            },
        ],
    ),
];

/// A schema: its URN, name and attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attrs: &'static [Attr],
}

pub static USER_SCHEMA: Schema = Schema {
    id: USER,
    name: "User",
    description: "User Account",
    attrs: USER_ATTRS,
};
pub static ENTERPRISE_SCHEMA: Schema = Schema {
    id: ENTERPRISE,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attrs: ENTERPRISE_ATTRS,
};
pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP,
    name: "Group",
    description: "Group",
    attrs: GROUP_ATTRS,
};

/// A resource type: its core schema and extensions.
#[derive(Debug)]
pub struct ResourceType {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub core: &'static Schema,
    pub extensions: &'static [&'static Schema],
}

pub static USER_TYPE: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    core: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_SCHEMA],
};
pub static GROUP_TYPE: ResourceType = ResourceType {
    name: "Group",
    endpoint: "/Groups",
    core: &GROUP_SCHEMA,
    extensions: &[],
};

pub static SCHEMAS: &[&Schema] = &[&USER_SCHEMA, &GROUP_SCHEMA, &ENTERPRISE_SCHEMA];

/// Attributes every resource has, outside any schema's list (RFC 7643 §3.1).
pub const COMMON: &[&str] = &["id", "externalId", "meta", "schemas"];

pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

impl ResourceType {
    /// The schema whose URN is `urn` (any case).
    pub fn schema(&self, urn: &str) -> Option<&'static Schema> {
        std::iter::once(self.core)
            .chain(self.extensions.iter().copied())
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The extension whose URN is `urn` (any case).
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}

/// `externalId`, a common attribute PATCH may target like a string
/// attribute of the core schema.
pub static EXTERNAL_ID: Attr = Attr {
    case_exact: true,
    ..s("externalId")
};

impl ResourceType {
    /// Every schema URN of the type, core first.
    pub fn urns(&self) -> Vec<&'static str> {
        std::iter::once(self.core.id)
            .chain(self.extensions.iter().map(|s| s.id))
            .collect()
    }
}
