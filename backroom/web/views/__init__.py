"""Pages, one module per area: shell (sign-in, home), org, users, audit, tokens."""
