//! ferrokeeper: a ZooKeeper server that Apache ZooKeeper's clients, operators and ensemble peers cannot tell
//! from the original.
