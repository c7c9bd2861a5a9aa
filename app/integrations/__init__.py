"""Effects that flow up the lifecycle: money arriving or going back moves deposits (auctions)
and contracts (deals). They start here, above the domain packages, so that `payments` never
imports the packages above it (`../shared/DESIGN.md`, the import rule)."""
