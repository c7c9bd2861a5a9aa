"""The sandbox clock (sandbox deployments only): a shared platform time that moves forward on
request, after which the worker's due work runs in time order."""
