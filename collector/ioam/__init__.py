"""The IOAM wire format (RFC 9197, RFC 9486, RFC 9326): scapy layers, the fast parser, builders."""
