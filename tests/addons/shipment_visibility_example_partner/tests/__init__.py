from . import test_example_partner
