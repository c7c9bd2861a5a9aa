"""Deals and technology contracts (技术合同). This release opens deals; the deals issue fills in
contracts, signing, registration and milestones."""
