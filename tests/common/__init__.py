"""Helpers shared by the test modules; nothing here is collected as a test.

``tiny`` (configurations small enough for 2 CPUs, a 4-class dataset), ``cli`` (the real entry
point in a subprocess), ``forkserver`` (fast bad-input runs), ``netns_cluster`` (a multi-node
Ray in a network namespace), ``handoff_death`` (a sweep whose worker dies at Tune's handoff),
``leases`` (a lease race), ``durations`` (the parallel schedule's measured seconds). Kept light:
importing one helper imports only what that helper needs.
"""
