"""The real OpenStack test tier: Keystone, Glance, Placement and Nova on loopback.

`python -m openstack_tier` (run with the project's virtualenv) installs, starts, seeds and stops
the services; `make test-openstack` runs the contract suite against them. The modules that import
nova (`nova_driver`, `nova_compute`) run only inside the tier's own virtualenv; every other module
uses the standard library and the project's dependencies only.
"""
