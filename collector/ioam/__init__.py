"""The IOAM wire format (RFC 9197, RFC 9486, RFC 9326): one frame walker behind the hot path
and the full decoder, the scapy oracle, builders."""
