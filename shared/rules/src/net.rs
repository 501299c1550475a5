//! Protocols, port ranges and what counts as "public".

use std::fmt;

use ipnet::IpNet;
use serde::{Serialize, Serializer};

/// An IP protocol as security groups and network ACLs name it ("tcp", "6", "-1", ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    All,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Other(u8),
}

impl Protocol {
    /// Read a protocol leniently: names in any case, numbers, "-1" and "all" for everything.
    /// Returns None for something that is neither.
    pub fn parse(raw: &str) -> Option<Protocol> {
        let s = raw.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "-1" | "all" | "any" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" => Protocol::Icmp,
            "icmpv6" | "58" => Protocol::Icmpv6,
            other => Protocol::Other(other.parse().ok()?),
        })
    }

    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp)
    }

    pub fn is_icmp(self) -> bool {
        matches!(self, Protocol::Icmp | Protocol::Icmpv6)
    }

    /// The spelling the EC2 API expects back in a revoke or authorize call.
    pub fn api_name(self) -> String {
        match self {
            Protocol::All => "-1".into(),
            Protocol::Tcp => "tcp".into(),
            Protocol::Udp => "udp".into(),
            Protocol::Icmp => "icmp".into(),
            Protocol::Icmpv6 => "icmpv6".into(),
            Protocol::Other(n) => n.to_string(),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::All => f.write_str("all"),
            other => f.write_str(&other.api_name()),
        }
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.api_name())
    }
}

impl<'de> serde::Deserialize<'de> for Protocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Protocol, D::Error> {
        let raw = crate::lenient::Text::deserialize(d)?;
        raw.get()
            .and_then(Protocol::parse)
            .ok_or_else(|| serde::de::Error::custom(format!("not a protocol: {:?}", raw.get())))
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub const ALL: PortRange = PortRange { from: 0, to: 65535 };

    /// The range a rule exposes. Missing or negative bounds (AWS writes -1 for "all") mean
    /// the whole range; reversed bounds are put in order.
    pub fn from_bounds(from: Option<i64>, to: Option<i64>) -> PortRange {
        let clamp = |p: i64| p.clamp(0, 65535) as u16;
        match (from, to) {
            (Some(f), Some(t)) if f >= 0 && t >= 0 => {
                let (a, b) = (clamp(f), clamp(t));
                PortRange {
                    from: a.min(b),
                    to: a.max(b),
                }
            }
            (Some(f), None) if f >= 0 => PortRange {
                from: clamp(f),
                to: clamp(f),
            },
            (None, Some(t)) if t >= 0 => PortRange {
                from: clamp(t),
                to: clamp(t),
            },
            _ => PortRange::ALL,
        }
    }

    pub fn len(self) -> u32 {
        u32::from(self.to) - u32::from(self.from) + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == PortRange::ALL {
            f.write_str("all ports")
        } else if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// A protocol and port range in the policy, written "tcp/443", "tcp/8000-8080", "udp/53",
/// "icmp" or a protocol number such as "50".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PortSpec {
    pub protocol: Protocol,
    pub ports: PortRange,
}

impl PortSpec {
    pub fn parse(raw: &str) -> Result<PortSpec, String> {
        let (proto, ports) = match raw.split_once('/') {
            Some((p, r)) => (p, Some(r)),
            None => (raw, None),
        };
        let protocol = Protocol::parse(proto).ok_or_else(|| format!("unknown protocol `{proto}` in `{raw}` (use tcp, udp, icmp, icmpv6, all or a number)"))?;
        let ports = match ports {
            None => PortRange::ALL,
            Some(r) => {
                if !protocol.has_ports() {
                    return Err(format!("`{raw}`: only tcp and udp take ports"));
                }
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                let p = |x: &str| {
                    x.trim()
                        .parse::<u16>()
                        .map_err(|_| format!("`{raw}`: `{x}` is not a port number (0-65535)"))
                };
                let (from, to) = (p(a)?, p(b)?);
                if from > to {
                    return Err(format!("`{raw}`: the range runs backwards"));
                }
                PortRange { from, to }
            }
        };
        Ok(PortSpec { protocol, ports })
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.protocol.has_ports() && self.ports != PortRange::ALL {
            write!(f, "{}/{}", self.protocol, self.ports)
        } else {
            write!(f, "{}", self.protocol)
        }
    }
}

/// Whether every port of `range` is covered by the union of `allowed` ranges.
pub fn covered(range: PortRange, allowed: &[PortRange]) -> bool {
    let mut sorted: Vec<PortRange> = allowed.to_vec();
    sorted.sort_by_key(|r| r.from);
    let mut next = u32::from(range.from);
    for r in sorted {
        if u32::from(r.from) > next {
            break;
        }
        next = next.max(u32::from(r.to) + 1);
        if next > u32::from(range.to) {
            return true;
        }
    }
    next > u32::from(range.to)
}

/// The source (or destination) of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Cidr(IpNet),
    /// A CIDR that does not parse; AWS would not have accepted it, so it is reported as is.
    BadCidr(String),
    PrefixList(String),
    Group(String),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Cidr(n) => write!(f, "{n}"),
            Peer::BadCidr(s) => write!(f, "{s} (unparsable)"),
            Peer::PrefixList(p) => write!(f, "prefix list {p}"),
            Peer::Group(g) => write!(f, "security group {g}"),
        }
    }
}

impl Peer {
    pub fn cidr(raw: &str) -> Peer {
        let t = raw.trim();
        match t.parse::<IpNet>() {
            Ok(n) => Peer::Cidr(n),
            // A bare address is a host route.
            Err(_) => match t.parse::<std::net::IpAddr>() {
                Ok(a) => Peer::Cidr(IpNet::from(a)),
                Err(_) => Peer::BadCidr(t.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        assert_eq!(
            PortSpec::parse("tcp/443").unwrap().ports,
            PortRange { from: 443, to: 443 }
        );
        assert_eq!(
            PortSpec::parse("TCP/8000-8080").unwrap().ports,
            PortRange {
                from: 8000,
                to: 8080
            }
        );
        assert_eq!(PortSpec::parse("icmp").unwrap().protocol, Protocol::Icmp);
        assert_eq!(PortSpec::parse("50").unwrap().protocol, Protocol::Other(50));
        assert!(PortSpec::parse("tcp/99999").is_err());
        assert!(PortSpec::parse("gre/1").is_err());
        assert!(PortSpec::parse("icmp/3").is_err());
        assert!(PortSpec::parse("tcp/90-80").is_err());
    }

    #[test]
    fn coverage() {
        let a = [
            PortRange { from: 80, to: 80 },
            PortRange { from: 443, to: 443 },
        ];
        assert!(covered(PortRange { from: 80, to: 80 }, &a));
        assert!(!covered(PortRange { from: 80, to: 443 }, &a));
        assert!(!covered(PortRange { from: 22, to: 22 }, &a));
        assert!(covered(
            PortRange {
                from: 1100,
                to: 2000
            },
            &[PortRange {
                from: 1024,
                to: 65535
            }]
        ));
        assert!(covered(
            PortRange { from: 10, to: 20 },
            &[
                PortRange { from: 10, to: 15 },
                PortRange { from: 16, to: 20 }
            ]
        ));
        assert!(covered(PortRange::ALL, &[PortRange::ALL]));
        assert!(!covered(PortRange::ALL, &[]));
    }

    #[test]
    fn bounds() {
        assert_eq!(PortRange::from_bounds(Some(-1), Some(-1)), PortRange::ALL);
        assert_eq!(PortRange::from_bounds(None, None), PortRange::ALL);
        assert_eq!(
            PortRange::from_bounds(Some(25), Some(22)),
            PortRange { from: 22, to: 25 }
        );
    }
}
