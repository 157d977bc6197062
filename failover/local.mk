# failover/: bulwark-failoverd (corosync membership, placement, sites)
