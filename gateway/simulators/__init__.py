"""Local vendor simulators: strict to each vendor's document, with sample data, request counters
and fault injection. They power `contact-gateway demo` and the tests."""
