"""Runtime plumbing the addons share: the lean master, the Chain, per-flow state, responses, the CA."""
