"""contact-gateway: one GraphQL Contact API in front of the contact-center systems you run."""
