"""Pure rules and types: errors, money, states. No Flask, no SQLAlchemy."""
