"""The PROXY protocol (HAProxy's, versions 1 and 2): the real client address a TCP load
balancer or proxy sends ahead of the connection's own bytes. `header` is the pure parser and
the trust rule; `socket_reader` reads a header off a raw socket without reading past it."""
