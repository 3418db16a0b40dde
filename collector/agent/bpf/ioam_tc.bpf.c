// SPDX-License-Identifier: Apache-2.0
/* ioam_tc: the agent's eBPF engine, a TC classifier (direct action) at the ingress of each
 * collection interface. It applies the AF_PACKET engine's classic-BPF prefilter and then its
 * hot path (collector/ioam/fastparse.py, on the network-layer packet) in the kernel, and adds
 * one packet and the IPv6 packet's bytes to every distinct NodeID of the trace, keyed by
 * (collection point, namespace, TraceID, NodeID) in a bounded per-CPU hash. User space swaps
 * the active counter map every flush and drains the other one, so nothing is copied per packet.
 *
 * Every verdict is TC_ACT_UNSPEC: the program only counts, the packet goes on unchanged to the
 * next filter. Layouts shared with user space are mirrored in collector/agent/ebpf_*.py.
 * Build: `make bpf` (clang -O2 -g -target bpf); the object is committed beside this file.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define MAX_POINTS 64      /* collection interfaces per agent */
#define MAX_NODES 64       /* node ids in one trace: 255-byte option, >= 4 bytes a node */
#define ROUTE_MAX 8        /* traces up to this many NodeIDs are counted under one key */
#define MAX_EXT 16         /* IPv6 extension headers walked (beyond: malformed, "limit") */
#define MAX_OPTS 256       /* TLVs walked in one options header (beyond: "limit") */
#define MAX_GTP_EXT 8      /* GTP-U extension headers walked (beyond: "limit") */
#define MAX_VLAN 8         /* VLAN tags still in the frame (the kernel strips the outer one) */
#define BUF 4096           /* bytes of a packet copied for parsing (link header included) */
#define OFF_MASK (BUF - 1) /* reads are masked into the buffer; the verifier sees the bound */
#define POS_MAX 0xFFFF     /* positions past this are beyond any copy: clamped, never read */
#define MAX_L2 46          /* Ethernet and 8 VLAN tags: copied beyond the snap length */

/* per-point statistics, a row of NSTAT counters; 0-3 are the parse results of tally.py */
#define S_PARSED 0
#define S_NO_IOAM 1
#define S_MALFORMED 2
#define S_OVERFLOW 3
#define S_CANDIDATES 4     /* passed the prefilter (= the sum of the four results) */
#define S_MAP_FULL 5       /* packets with a NodeID the counter map had no room for */
#define S_LIMIT 6          /* malformed because a walk hit one of the MAX_* bounds */
#define NSTAT 8

#define LINK_ETHERNET 0
#define LINK_RAW 1         /* no link header: the IP version nibble says v4 or v6 */

#define CARRIER_NAMESPACE 0
#define CARRIER_FLOW_LABEL 1
#define CARRIER_DEX 2
#define CARRIER_STATIC 3
#define NS_WIDE 0x10       /* ns_cfg flag: node ids from trace-type bit 8 (56 bit) */

#define TRACE_VALUE 0      /* flow_key.kind: trace is the TraceID itself */
#define TRACE_OTHER 1      /* the configured carrier is absent: TraceID `other` */
#define TRACE_RULE 2       /* trace is the index of the static rule that matched */

/* parse outcomes of one IPv6 packet (negative: the packet is malformed) */
#define P_NONE 0
#define P_FOUND 1
#define P_MALFORMED -1
#define P_LIMIT -2

struct point_cfg {
	__u32 point;
	__u32 link;
	__u32 snaplen; /* bytes parsed past the link header, as AF_PACKET's agent.snaplen */
};

/* A trace of at most ROUTE_MAX NodeIDs is one key holding them as carried (repeats included:
 * user space counts each distinct one once), so a packet costs one map update; a longer trace
 * adds to one key per NodeID (count 1). */
struct flow_key {
	__u32 trace;
	__u16 ns;
	__u8 point;
	__u8 kind;
	__u8 count;
	__u8 pad[7];
	__u64 ids[ROUTE_MAX];
};

struct flow_val {
	__u64 packets;
	__u64 bytes;
	__u64 outer_bytes;
	__u64 stamp; /* the per-CPU packet that last added here: repeats in a long trace count once */
};

struct ns_rules {
	__u64 sport_any; /* rules without a source port */
	__u64 dport_any;
};

struct lpm_key {
	__u32 prefixlen; /* 16 (the namespace) + the address prefix */
	__u8 data[20];   /* namespace (big endian), IPv6 address, 2 bytes of padding */
};

/* What the walk of one IPv6 packet found (level 0: outermost IPv6 or GTP-U inner, 1: the
 * G-PDU inside an outer IPv6 packet). */
struct level {
	__u32 ipv6_len;
	__u32 outer_len;
	__u32 flow_label;
	__u32 gtp;        /* offset of the GTP-U header after UDP 2152, 0 when none */
	__u32 t_start;    /* the first trace's node data: [t_start, t_end) */
	__u32 t_end;
	__u32 t_stride;
	__u32 t_offset;   /* of the node id inside a node */
	__u32 t_width;    /* 0, 4 or 8 bytes */
	__u32 t_oss;
	__u32 dex_flow;
	__u16 sport;
	__u16 dport;
	__u16 t_ns;
	__u16 dex_ns;
	__u16 other_ns;
	__u8 has_trace;
	__u8 overflow;
	__u8 has_dex;
	__u8 dex_has_flow;
	__u8 has_other;
	__u8 pad;
	__u8 src[16];
	__u8 dst[16];
};

struct scratch {
	struct level lv[2];
	__u64 seq; /* packets counted on this CPU: the stamp of flow_val */
	__u64 ids[MAX_NODES];
	__u32 n;   /* bytes of buf that hold the packet (its length, or the snap length) */
	__u32 gtp_end; /* where a G-PDU's bytes end: its IP packet's and its UDP Length's bound */
	__u8 buf[BUF + 64]; /* the packet's first bytes; the slack keeps masked reads inside */
};

struct counts_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} counts_a SEC(".maps"), counts_b SEC(".maps");

/* slot 0 holds the map being counted into; user space points it at the other one each flush
 * (the update waits for running programs, so the drained map is quiet) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct counts_map);
} active SEC(".maps") = {
	.values = { &counts_a },
};

struct stat_row {
	__u64 c[NSTAT];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_POINTS);
	__type(key, __u32); /* collection point */
	__type(value, struct stat_row);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_POINTS);
	__type(key, __u32); /* ifindex */
	__type(value, struct point_cfg);
} points SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32); /* IOAM namespace */
	__type(value, __u32); /* carrier | NS_WIDE */
} ns_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* namespace */
	__type(value, struct ns_rules);
} rules_any SEC(".maps");

struct rules_lpm {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u64); /* the rules whose prefix contains this one (bit i: rule i) */
} src_rules SEC(".maps"), dst_rules SEC(".maps");

struct rules_port {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* namespace << 16 | port */
	__type(value, __u64);
} sport_rules SEC(".maps"), dport_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/* ---- bounded reads of the copied packet: every offset is checked against its length ------- */

struct pkt {
	__u8 *buf;
	__u32 n;
};

static __always_inline void pkt_init(struct scratch *s, struct pkt *k)
{
	k->buf = s->buf;
	k->n = s->n > BUF ? BUF : s->n;
}

static __always_inline int rd8(struct pkt *k, __u32 off, __u32 *out)
{
	if (off >= k->n)
		return -1;
	*out = k->buf[off & OFF_MASK];
	return 0;
}

static __always_inline int rd16(struct pkt *k, __u32 off, __u32 *out)
{
	if (off + 2 > k->n)
		return -1;
	__u8 *p = &k->buf[off & OFF_MASK];
	*out = ((__u32)p[0] << 8) | p[1];
	return 0;
}

static __always_inline int rd32(struct pkt *k, __u32 off, __u32 *out)
{
	if (off + 4 > k->n)
		return -1;
	__u8 *p = &k->buf[off & OFF_MASK];
	*out = ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
	return 0;
}

static __always_inline int rd64(struct pkt *k, __u32 off, __u64 *out)
{
	__u32 hi, lo;
	if (rd32(k, off, &hi) || rd32(k, off + 4, &lo))
		return -1;
	*out = ((__u64)hi << 32) | lo;
	return 0;
}

static __always_inline void stat_add(__u32 point, __u32 which)
{
	struct stat_row *row = bpf_map_lookup_elem(&stats, &point);
	if (row)
		row->c[which & (NSTAT - 1)] += 1;
}

/* ---- the classic-BPF prefilter of collector/agent/bpf.py, on the network-layer packet ----- */

/* 1 when the packet may carry IOAM: IPv6 whose first next header is Hop-by-Hop or Destination
 * Options, or a GTP-U G-PDU (UDP 2152, <= 3 extension headers) whose inner IPv6 is. Offsets are
 * relative to `net`; an out-of-bounds load drops, as in classic BPF. */
__noinline int prefilter(__u32 net, __u32 ethertype)
{
	struct pkt k;
	__u32 a, x, f, len;
	struct scratch *s = get_scratch();

	if (!s || net > POS_MAX)
		return 0;
	pkt_init(s, &k);
	if (ethertype == 0x86DD) {
		if (rd8(&k, net + 6, &a))
			return 0;
		if (a == 0 || a == 60)
			return 1;
		if (a != 17)
			return 0;
		x = 40;
	} else if (ethertype == 0x0800) {
		if (rd8(&k, net + 9, &a) || a != 17)
			return 0;
		if (rd16(&k, net + 6, &a) || (a & 0x1FFF))
			return 0;
		if (rd8(&k, net, &a))
			return 0;
		x = (a & 0x0F) * 4;
	} else {
		return 0;
	}
	if (rd16(&k, net + x + 2, &a) || a != 2152)
		return 0;
	if (rd8(&k, net + x + 9, &a) || a != 0xFF)
		return 0;
	if (rd8(&k, net + x + 8, &f))
		return 0;
	if ((f & 0xE0) != 0x20 || !(f & 0x10))
		return 0;
	if (!(f & 0x07)) {
		x += 16;
	} else if (!(f & 0x04)) {
		x += 20;
	} else {
		if (rd8(&k, net + x + 19, &a))
			return 0;
		if (a == 0) {
			x += 20;
		} else {
			x += 20;
			int i;
			for (i = 0; i < 3; i++) {
				if (rd8(&k, net + x, &len) || len == 0)
					return 0;
				x += len * 4;
				if (rd8(&k, net + x - 1, &a))
					return 0;
				if (a == 0)
					break;
			}
			if (i == 3)
				return 0;
		}
	}
	if (rd8(&k, net + x, &a) || (a & 0xF0) != 0x60)
		return 0;
	if (rd8(&k, net + x + 6, &a))
		return 0;
	return a == 0 || a == 60;
}

/* ---- IOAM options ----------------------------------------------------------------------- */

static __always_inline __u32 popcount(__u32 v)
{
	return __builtin_popcount(v);
}

/* Judge a trace option (option-type byte at q, end qe) and remember the level's first trace.
 * 0 when well formed, P_MALFORMED when not (the rules of hotparts.plan_node_ids). */
__noinline int judge_trace(__u32 q, __u32 qe, __u32 li)
{
	struct pkt k;
	__u32 kind, ns, b2, b3, tt, start, node_len, wide, stride, offset, width, cfg_ns;
	struct scratch *s = get_scratch();

	if (!s || q > POS_MAX || qe > POS_MAX || qe < q + 12)
		return P_MALFORMED;
	pkt_init(s, &k);
	if (rd8(&k, q + 3, &kind) || rd16(&k, q + 4, &ns) || rd8(&k, q + 6, &b2) ||
	    rd8(&k, q + 7, &b3) || rd32(&k, q + 8, &tt))
		return P_MALFORMED;
	tt >>= 8;
	start = kind == 0 ? q + 12 + ((b3 & 0x7F) << 2) : q + 12;
	if (start > qe)
		return P_MALFORMED;
	node_len = b2 >> 3;
	if (!(tt & 0xFFFFFE))
		return P_MALFORMED;
	if (node_len != popcount(tt & 0xFF0000) + 2 * popcount(tt & 0x00E000) +
			popcount(tt & 0x001FFC))
		return P_MALFORMED;
	cfg_ns = ns;
	__u32 *cfg = bpf_map_lookup_elem(&ns_cfg, &cfg_ns);
	wide = cfg && (*cfg & NS_WIDE);
	if ((tt & 0x008000) && (wide || !(tt & 0x800000))) {
		offset = 4 * popcount(tt & 0xFF0000);
		width = 8;
	} else if (tt & 0x800000) {
		offset = 0;
		width = 4;
	} else {
		offset = 0;
		width = 0;
	}
	stride = node_len << 2;
	if (tt & 0x000002) { /* opaque state snapshots: nodes of variable length */
		__u32 pos = start, len;
		int i;
		for (i = 0; i < MAX_NODES; i++) {
			if (pos >= qe)
				break;
			if (pos + stride + 4 > qe)
				return P_MALFORMED;
			pos += stride;
			if (rd8(&k, pos, &len))
				return P_MALFORMED;
			pos += 4 + (len << 2);
			if (pos > qe)
				return P_MALFORMED;
		}
		if (i == MAX_NODES)
			return P_MALFORMED; /* unreachable: a 255-byte option holds fewer nodes */
	} else if (stride == 0 || (qe - start) % stride) {
		return P_MALFORMED;
	}
	struct level *lv = &s->lv[li & 1];
	if (!lv->has_trace) {
		lv->has_trace = 1;
		lv->t_ns = ns;
		lv->overflow = (b2 & 0x04) != 0;
		lv->t_start = start;
		lv->t_end = qe;
		lv->t_stride = stride;
		lv->t_offset = offset;
		lv->t_width = width;
		lv->t_oss = (tt & 0x000002) != 0;
	}
	return 0;
}

/* DEX, POT and E2E options (hotparts.judge_other_option); 0 or P_MALFORMED. */
static __always_inline int judge_other(struct pkt *k, struct level *lv, __u32 q, __u32 qe,
				       __u32 kind)
{
	__u32 ns, ext, flow = 0, has_flow;

	if (kind == 4) {
		if (qe < q + 12 || rd16(k, q + 4, &ns) || rd8(k, q + 7, &ext))
			return P_MALFORMED;
		__u32 extra = qe - q - 12;
		if (ext == 3 && extra == 8) {
			has_flow = 1;
		} else {
			if (extra != ((ext & 0x80) ? 4 : 0) + ((ext & 0x40) ? 4 : 0))
				return P_MALFORMED;
			has_flow = (ext & 0x80) != 0;
		}
		if (has_flow && rd32(k, q + 12, &flow))
			return P_MALFORMED;
		if (!lv->has_dex) {
			lv->has_dex = 1;
			lv->dex_ns = ns;
			lv->dex_has_flow = has_flow;
			lv->dex_flow = flow;
		}
		return 0;
	}
	if (kind == 2 || kind == 3) {
		if (qe < q + 8 || rd16(k, q + 4, &ns))
			return P_MALFORMED;
		if (!lv->has_other) {
			lv->has_other = 1;
			lv->other_ns = ns;
		}
		return 0;
	}
	return P_MALFORMED;
}

/* Walk the TLVs of one Hop-by-Hop or Destination Options header [p, hend). */
__noinline int walk_options(__u32 p, __u32 hend, __u32 li)
{
	struct pkt k;
	__u32 q, code, len, kind, qe;
	struct scratch *s = get_scratch();

	if (!s || p > POS_MAX || hend > POS_MAX)
		return P_MALFORMED;
	pkt_init(s, &k);
	struct level *lv = &s->lv[li & 1];
	q = p + 2;
	for (int i = 0; i <= MAX_OPTS; i++) {
		if (q >= hend)
			return 0;
		if (i == MAX_OPTS)
			return P_LIMIT;
		if (rd8(&k, q, &code))
			return P_MALFORMED;
		if (code == 0) {
			q += 1;
			continue;
		}
		if (q + 2 > hend || rd8(&k, q + 1, &len))
			return P_MALFORMED;
		qe = q + 2 + len;
		if (qe > hend)
			return P_MALFORMED;
		if (code == 0x31 || code == 0x11) {
			if (((q - p) & 3) || qe < q + 4 || rd8(&k, q + 3, &kind))
				return P_MALFORMED;
			if (kind <= 1) {
				if (judge_trace(q, qe, li))
					return P_MALFORMED;
			} else if (judge_other(&k, lv, q, qe, kind)) {
				return P_MALFORMED;
			}
		}
		q = qe;
	}
	return P_LIMIT;
}

static __always_inline int is_skipped(__u32 nh)
{
	return nh == 43 || nh == 135 || nh == 139 || nh == 140 || nh == 253 || nh == 254 ||
	       nh == 51 || nh == 44;
}

/* One IPv6 packet at `off`, inside [0, limit) (walker.ipv6 and the GTP-U decision after it):
 * P_FOUND when it holds an IOAM option, P_NONE, or negative when malformed. Sets lv->gtp and
 * s->gtp_end for a G-PDU to follow. Every read stays inside the packet's Payload Length. */
__noinline int parse_ipv6(__u32 off, __u32 outer_len, __u32 li, __u32 limit)
{
	struct pkt k;
	__u32 first, plen, nh, lim, p, hl, hend, v, size;
	int frag = 0, r;
	struct scratch *s = get_scratch();

	if (!s || off > POS_MAX)
		return P_MALFORMED;
	pkt_init(s, &k);
	struct level *lv = &s->lv[li & 1];
	__builtin_memset(lv, 0, sizeof(*lv));
	lv->outer_len = outer_len;
	if (limit > k.n)
		limit = k.n;
	if (off + 40 > limit)
		return P_MALFORMED;
	if (rd32(&k, off, &first) || rd16(&k, off + 4, &plen) || rd8(&k, off + 6, &nh))
		return P_MALFORMED;
	__u8 *addr = &k.buf[off & OFF_MASK];
	__builtin_memcpy(lv->src, addr + 8, 16);
	__builtin_memcpy(lv->dst, addr + 24, 16);
	lv->ipv6_len = 40 + plen;
	lv->flow_label = first & 0xFFFFF;
	lim = (plen && off + 40 + plen < limit) ? off + 40 + plen : limit;
	p = off + 40;
	for (int i = 0; i <= MAX_EXT; i++) {
		if (nh == 0 || nh == 60) {
			if (i == MAX_EXT)
				return P_LIMIT;
			if (p + 2 > lim || rd8(&k, p + 1, &hl))
				return P_MALFORMED;
			hend = p + ((hl + 1) << 3);
			if (hend > lim)
				return P_MALFORMED;
			r = walk_options(p, hend, li);
			if (r)
				return r;
			if (rd8(&k, p, &nh))
				return P_MALFORMED;
			p = hend;
		} else if (is_skipped(nh)) {
			if (i == MAX_EXT)
				return P_LIMIT;
			if (p + 8 > lim)
				break;
			if (nh == 44) {
				if (rd16(&k, p + 2, &v))
					return P_MALFORMED;
				if (v & 0xFFF8) {
					if (rd8(&k, p, &nh))
						return P_MALFORMED;
					frag = 1;
					break;
				}
				size = 8;
			} else {
				if (rd8(&k, p + 1, &v))
					return P_MALFORMED;
				size = nh == 51 ? (v + 2) << 2 : (v + 1) << 3;
			}
			if (rd8(&k, p, &nh))
				return P_MALFORMED;
			p += size;
		} else {
			break;
		}
		if (p > POS_MAX)
			p = POS_MAX; /* beyond any copy: the next check fails as in fastparse */
	}
	if ((nh == 17 || nh == 6) && !frag && p + 4 <= lim) {
		if (rd16(&k, p, &v))
			return P_MALFORMED;
		lv->sport = v;
		if (rd16(&k, p + 2, &v))
			return P_MALFORMED;
		lv->dport = v;
	}
	if (nh == 17 && lv->dport == 2152 && outer_len == 0) {
		lv->gtp = p + 8;
		s->gtp_end = lim;
	}
	return (lv->has_trace || lv->has_dex || lv->has_other) ? P_FOUND : P_NONE;
}

/* A G-PDU at g, its UDP header 8 bytes before, inside [0, s->gtp_end) (walker._gtpu): the inner
 * IPv6 packet's offset, or -1 - result code. Narrows s->gtp_end to the UDP Length (when 8 or
 * more), so that the inner packet is read inside it. */
#define GTP_NO_IOAM (-1 - S_NO_IOAM)
#define GTP_MALFORMED (-1 - S_MALFORMED)
#define GTP_LIMIT (-100)
__noinline int parse_gtpu(__u32 g)
{
	struct pkt k;
	__u32 b0, b1, q, next = 0, len, end, ulen;
	struct scratch *s = get_scratch();

	if (!s || g > POS_MAX || g < 8)
		return GTP_NO_IOAM;
	pkt_init(s, &k);
	end = s->gtp_end < k.n ? s->gtp_end : k.n;
	if (end < g + 8 || rd16(&k, g - 4, &ulen))
		return GTP_NO_IOAM;
	if (ulen >= 8 && g - 8 + ulen < end)
		end = g - 8 + ulen; /* RFC 768: the datagram ends at its Length */
	s->gtp_end = end;
	if (end < g + 8)
		return GTP_NO_IOAM;
	if (rd8(&k, g, &b0) || rd8(&k, g + 1, &b1))
		return GTP_NO_IOAM;
	if ((b0 >> 4) != 3 || b1 != 0xFF)
		return GTP_NO_IOAM;
	q = g + 8;
	if (b0 & 0x07) {
		if (end < q + 4)
			return GTP_MALFORMED;
		if ((b0 & 0x04) && rd8(&k, q + 3, &next))
			return GTP_MALFORMED;
		q += 4;
		for (int i = 0; i <= MAX_GTP_EXT; i++) {
			if (!next)
				break;
			if (i == MAX_GTP_EXT)
				return GTP_LIMIT;
			if (q >= end || rd8(&k, q, &len) || len == 0 || q + (len << 2) > end)
				return GTP_MALFORMED;
			q += len << 2;
			if (rd8(&k, q - 1, &next))
				return GTP_MALFORMED;
		}
	}
	if (q >= end || rd8(&k, q, &b0) || (b0 >> 4) != 6)
		return GTP_NO_IOAM;
	return q;
}

/* ---- TraceID carriers and counting -------------------------------------------------------- */

/* Index of the lowest set bit (the first matching rule); m != 0. */
static __always_inline __u32 lowest_bit(__u64 m)
{
	__u64 b = m & (~m + 1);
	__u32 i = 0;
	if (b & 0xFFFFFFFF00000000ULL)
		i += 32;
	if (b & 0xFFFF0000FFFF0000ULL)
		i += 16;
	if (b & 0xFF00FF00FF00FF00ULL)
		i += 8;
	if (b & 0xF0F0F0F0F0F0F0F0ULL)
		i += 4;
	if (b & 0xCCCCCCCCCCCCCCCCULL)
		i += 2;
	if (b & 0xAAAAAAAAAAAAAAAAULL)
		i += 1;
	return i;
}

static __always_inline __u64 lpm_rules(void *map, __u32 ns, __u8 *addr)
{
	struct lpm_key key = { .prefixlen = 144 };
	key.data[0] = ns >> 8;
	key.data[1] = ns & 0xFF;
	__builtin_memcpy(&key.data[2], addr, 16);
	__u64 *m = bpf_map_lookup_elem(map, &key);
	return m ? *m : 0;
}

static __always_inline __u64 port_rules(void *map, __u32 ns, __u32 port, __u64 any)
{
	__u32 key = (ns << 16) | port;
	__u64 *m = bpf_map_lookup_elem(map, &key);
	return m ? *m : any;
}

/* The TraceID of the level's packet for namespace ns: sets key->kind and key->trace
 * (traceid.TraceIdResolver: first matching static rule, `other` when the carrier is absent). */
static __always_inline void resolve_trace(__u32 ns, struct level *lv, struct flow_key *key)
{
	__u32 cfg_ns = ns;
	__u32 *cfg = bpf_map_lookup_elem(&ns_cfg, &cfg_ns);
	__u32 carrier = cfg ? (*cfg & 0x0F) : CARRIER_NAMESPACE;

	key->kind = TRACE_VALUE;
	if (carrier == CARRIER_FLOW_LABEL) {
		key->trace = lv->flow_label;
	} else if (carrier == CARRIER_DEX) {
		key->trace = lv->dex_flow;
		if (!lv->has_dex || !lv->dex_has_flow)
			key->kind = TRACE_OTHER;
	} else if (carrier == CARRIER_STATIC) {
		struct ns_rules *any = bpf_map_lookup_elem(&rules_any, &cfg_ns);
		__u64 m = 0;
		if (any) {
			m = lpm_rules(&src_rules, ns, lv->src) & lpm_rules(&dst_rules, ns, lv->dst);
			m &= port_rules(&sport_rules, ns, lv->sport, any->sport_any);
			m &= port_rules(&dport_rules, ns, lv->dport, any->dport_any);
		}
		if (m) {
			key->kind = TRACE_RULE;
			key->trace = lowest_bit(m);
		} else {
			key->kind = TRACE_OTHER;
			key->trace = 0;
		}
	} else {
		key->trace = ns;
	}
}

/* The NodeIDs of the level's first trace, as carried, into s->ids; returns how many. A global
 * function: verified once, its caller sees one unknown count instead of 64 paths. */
__noinline int collect_ids(__u32 li)
{
	struct pkt kk, *k = &kk;
	struct scratch *s = get_scratch();

	if (!s)
		return 0;
	pkt_init(s, k);
	struct level *lv = &s->lv[li & 1];
	__u32 pos = lv->t_start, end = lv->t_end, stride = lv->t_stride, offset = lv->t_offset;
	__u32 width = lv->t_width, oss = lv->t_oss, len, v32;
	__u64 id;
	int count = 0;

	if (!width || pos > POS_MAX || end > POS_MAX || stride > 128 || offset > 120)
		return 0;
	for (int i = 0; i < MAX_NODES; i++) {
		if (pos >= end || (!oss && pos + stride > end))
			break;
		if (width == 4) {
			if (rd32(k, pos + offset, &v32))
				break;
			id = v32 & 0xFFFFFF;
		} else {
			if (rd64(k, pos + offset, &id))
				break;
			id &= 0x00FFFFFFFFFFFFFFULL;
		}
		pos += stride;
		if (oss) {
			if (rd8(k, pos, &len))
				break;
			pos += 4 + (len << 2);
		}
		s->ids[i & (MAX_NODES - 1)] = id;
		count++;
	}
	return count;
}

/* +1 packet and the bytes under `key`, unless this packet (stamp) already added there;
 * 1 when the map had no room for a new key. */
static __always_inline int add_to(void *map, struct flow_key *key, struct flow_val *init)
{
	struct flow_val *v = bpf_map_lookup_elem(map, key);

	if (!v) {
		if (bpf_map_update_elem(map, key, init, BPF_NOEXIST) == 0)
			return 0;
		v = bpf_map_lookup_elem(map, key); /* another CPU added it meanwhile */
		if (!v)
			return 1;
	}
	if (v->stamp == init->stamp)
		return 0;
	v->stamp = init->stamp;
	v->packets += 1;
	v->bytes += init->bytes;
	v->outer_bytes += init->outer_bytes;
	return 0;
}

/* Count the level's packet for every NodeID of its first trace (meta: ns << 16 | point << 8 |
 * kind): one key for the whole trace when it is short, else one per NodeID. Returns 1 when
 * the map had no room. */
__noinline int count_nodes(__u32 meta, __u32 trace, __u32 li)
{
	__u32 zero = 0;
	int count = collect_ids(li), full = 0;
	struct scratch *s = get_scratch();

	if (!s || count <= 0)
		return 0;
	void *inner = bpf_map_lookup_elem(&active, &zero);
	if (!inner)
		return 1;
	struct level *lv = &s->lv[li & 1];
	struct flow_val init = {
		.packets = 1, .bytes = lv->ipv6_len, .outer_bytes = lv->outer_len, .stamp = ++s->seq,
	};
	struct flow_key key = {
		.trace = trace, .ns = meta >> 16, .point = (meta >> 8) & 0xFF, .kind = meta & 0xFF,
	};
	if (count <= ROUTE_MAX) {
		key.count = count;
		for (int j = 0; j < ROUTE_MAX; j++)
			key.ids[j] = j < count ? s->ids[j] : 0;
		return add_to(inner, &key, &init);
	}
	key.count = 1;
	for (int j = 0; j < MAX_NODES; j++) {
		if (j >= count)
			break;
		key.ids[0] = s->ids[j];
		full |= add_to(inner, &key, &init);
	}
	return full;
}

/* ---- the classifier ----------------------------------------------------------------------- */

/* The network header's offset and ethertype, from the frame (Ethernet with VLAN tags still in
 * it) or from the IP version nibble (devices without a link header); -1 when not IP. */
static __always_inline int link_layer(struct pkt *k, __u32 link, __u32 *ethertype)
{
	__u32 et, off = 14;

	if (link == LINK_RAW) {
		if (rd8(k, 0, &et))
			return -1;
		*ethertype = (et >> 4) == 6 ? 0x86DD : (et >> 4) == 4 ? 0x0800 : 0;
		return 0;
	}
	if (rd16(k, 12, &et))
		return -1;
	for (int i = 0; i < MAX_VLAN; i++) {
		if (et != 0x8100 && et != 0x88A8 && et != 0x9100)
			break;
		if (rd16(k, off + 2, &et))
			return -1;
		off += 4;
	}
	*ethertype = et;
	return off;
}

/* Parse the candidate at `net` and count it: returns the S_* result. */
__noinline int parse_and_count(__u32 net, __u32 point)
{
	struct pkt k;
	__u32 v, ihl, outer_len = 0, start, limit;
	int st0, st1, inner, li;
	struct scratch *s = get_scratch();

	if (!s || net > POS_MAX)
		return S_MALFORMED;
	pkt_init(s, &k);
	limit = k.n;
	if (rd8(&k, net, &v))
		return S_MALFORMED;
	if ((v >> 4) == 6) {
		start = net;
	} else if ((v >> 4) == 4) {
		if (k.n < net + 28)
			return k.n >= net + 20 ? S_NO_IOAM : S_MALFORMED;
		ihl = (v & 0x0F) << 2;
		if (rd8(&k, net + 9, &v) || v != 17)
			return S_NO_IOAM;
		if (rd16(&k, net + 6, &v) || (v & 0x1FFF) || ihl < 20)
			return S_NO_IOAM;
		if (rd16(&k, net + 2, &outer_len))
			return S_NO_IOAM;
		/* RFC 791: the packet ends at its Total Length (one below its header: TSO, ignored) */
		s->gtp_end = outer_len >= ihl && net + outer_len < k.n ? net + outer_len : k.n;
		if (s->gtp_end < net + ihl + 4 || rd16(&k, net + ihl + 2, &v) || v != 2152)
			return S_NO_IOAM;
		inner = parse_gtpu(net + ihl + 8);
		if (inner == GTP_LIMIT)
			return -1;
		if (inner < 0)
			return -1 - inner;
		start = inner;
		limit = s->gtp_end;
	} else {
		return S_NO_IOAM;
	}
	st0 = parse_ipv6(start, outer_len, 0, limit);
	if (st0 == P_LIMIT)
		return -1;
	if (st0 < 0)
		return S_MALFORMED;
	li = 0;
	if (s->lv[0].gtp) {
		inner = parse_gtpu(s->lv[0].gtp);
		if (inner == GTP_LIMIT)
			st1 = P_LIMIT;
		else if (inner == GTP_MALFORMED)
			st1 = P_MALFORMED;
		else if (inner < 0)
			st1 = P_NONE;
		else
			st1 = parse_ipv6(inner, s->lv[0].ipv6_len, 1, s->gtp_end);
		if (st0 == P_NONE || st1 < 0) {
			if (st1 == P_LIMIT)
				return -1;
			if (st1 < 0)
				return S_MALFORMED;
			if (st1 == P_NONE)
				return S_NO_IOAM;
			li = 1;
		}
	} else if (st0 == P_NONE) {
		return S_NO_IOAM;
	}
	struct level *lv = &s->lv[li & 1];
	__u32 ns = lv->has_trace ? lv->t_ns : lv->has_dex ? lv->dex_ns : lv->other_ns;
	int result = lv->has_trace && lv->overflow ? S_OVERFLOW : S_PARSED;
	if (!lv->has_trace)
		return result;
	struct flow_key key = { .ns = ns, .point = point };
	resolve_trace(ns, lv, &key);
	if (count_nodes((ns << 16) | (point << 8) | key.kind, key.trace, li))
		stat_add(point, S_MAP_FULL);
	return result;
}

SEC("tc")
int ioam_count(struct __sk_buff *skb)
{
	struct pkt k;
	__u32 ifindex = skb->ifindex, ethertype = 0, point, snaplen;
	__u64 copy; /* 64 bit: no zero-extended copies the verifier would not link */
	struct point_cfg *pc = bpf_map_lookup_elem(&points, &ifindex);
	struct scratch *s = get_scratch();
	int net, result;

	if (!pc || !s)
		return TC_ACT_UNSPEC;
	point = pc->point;
	snaplen = pc->snaplen > BUF ? BUF : pc->snaplen;
	/* the first bytes, wherever the driver put them (linear area or page fragments) */
	copy = skb->len < snaplen + MAX_L2 ? skb->len : snaplen + MAX_L2;
	if (copy > BUF)
		copy = BUF;
	if (copy == 0 || bpf_skb_load_bytes(skb, 0, s->buf, copy))
		return TC_ACT_UNSPEC;
	s->n = copy;
	pkt_init(s, &k);
	net = link_layer(&k, pc->link, &ethertype);
	if (net < 0 || !prefilter(net, ethertype))
		return TC_ACT_UNSPEC;
	if (s->n > net + snaplen)
		s->n = net + snaplen; /* parse what AF_PACKET would capture */
	stat_add(point, S_CANDIDATES);
	result = parse_and_count(net, point);
	if (result < 0) {
		stat_add(point, S_LIMIT);
		result = S_MALFORMED;
	}
	stat_add(point, result);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Apache-2.0";
