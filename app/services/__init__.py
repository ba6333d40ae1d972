"""Use cases: every state change in Keel happens here, and each commits once."""
