//! One security-group permission, as EC2 takes it in a revoke or authorize call and lists
//! it for a group: the model security-group actions, facts and the sweep share.

use serde::Serialize;

use crate::net::{Peer, PortRange, Protocol};

/// One security-group permission with exactly one peer, as EC2 takes it back in a revoke or
/// authorize call. Ports are kept exactly as the request wrote them so the revoke matches.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Permission {
    pub protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Permission {
    pub fn peer(&self) -> Option<Peer> {
        if let Some(c) = self.cidr_ipv4.as_deref().or(self.cidr_ipv6.as_deref()) {
            Some(Peer::cidr(c))
        } else if let Some(p) = &self.prefix_list_id {
            Some(Peer::PrefixList(p.clone()))
        } else {
            self.source_group_id
                .as_ref()
                .map(|g| Peer::Group(g.clone()))
        }
    }

    /// The ports exposed: every port for protocol -1 and for TCP/UDP without bounds.
    pub fn ports(&self) -> PortRange {
        if self.protocol.has_ports() {
            PortRange::from_bounds(self.from_port, self.to_port)
        } else {
            PortRange::ALL
        }
    }

    /// "tcp/22 from 0.0.0.0/0" for humans.
    pub fn describe(&self) -> String {
        let what = match self.protocol {
            Protocol::All => "all traffic".to_string(),
            p if p.has_ports() => format!("{p}/{}", self.ports()),
            p => p.to_string(),
        };
        match self.peer() {
            Some(peer) => format!("{what} from {peer}"),
            None => what,
        }
    }
}

/// The permissions as the EC2 API (and `--ip-permissions` of the AWS CLI) writes them, one
/// element per permission, ports exactly as given.
pub fn api_json(perms: &[Permission]) -> serde_json::Value {
    perms
        .iter()
        .map(|p| {
            let mut o = serde_json::Map::new();
            o.insert("IpProtocol".into(), p.protocol.api_name().into());
            if let Some(f) = p.from_port {
                o.insert("FromPort".into(), f.into());
            }
            if let Some(t) = p.to_port {
                o.insert("ToPort".into(), t.into());
            }
            let described = |mut peer: serde_json::Map<String, serde_json::Value>| {
                if let Some(d) = &p.description {
                    peer.insert("Description".into(), d.clone().into());
                }
                serde_json::Value::Array(vec![peer.into()])
            };
            let one = |k: &str, v: &str| {
                let mut m = serde_json::Map::new();
                m.insert(k.into(), v.into());
                m
            };
            if let Some(c) = &p.cidr_ipv4 {
                o.insert("IpRanges".into(), described(one("CidrIp", c)));
            }
            if let Some(c) = &p.cidr_ipv6 {
                o.insert("Ipv6Ranges".into(), described(one("CidrIpv6", c)));
            }
            if let Some(c) = &p.prefix_list_id {
                o.insert("PrefixListIds".into(), described(one("PrefixListId", c)));
            }
            if let Some(g) = &p.source_group_id {
                o.insert("UserIdGroupPairs".into(), described(one("GroupId", g)));
            }
            serde_json::Value::Object(o)
        })
        .collect()
}
