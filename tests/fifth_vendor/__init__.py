"""A fifth vendor written inside the tests (a vendor module and its simulator), registered through
entry points by tests/test_fifth_vendor.py to show that adding a vendor changes no other file."""
