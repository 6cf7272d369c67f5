#!/usr/bin/env python3
"""Independent expectations for parsers/tests/tls_fixtures: tshark dissects each hello of a
pcap, and JA4 / JA4S are computed here from tshark's lists per the FoxIO specification
(technical_details/JA4.md, JA4S.md). Usage: expected_from_tshark.py FILE.pcap"""
import hashlib, subprocess, sys

FIELDS = ["frame.number", "tls.handshake.type", "tls.handshake.version", "tls.handshake.ciphersuite",
          "tls.handshake.extension.type", "tls.handshake.sig_hash_alg",
          "tls.handshake.extensions.supported_version", "tls.handshake.extensions_supported_group",
          "tls.handshake.extensions_ec_point_format", "tls.handshake.extensions_key_share_group",
          "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
          "tls.handshake.extensions_key_share_selected_group"]
GREASE = {0x0a0a + 0x1010 * i for i in range(16)}

def h12(s):
    return hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"

def nums(v):
    return [int(x, 0) for x in v.split(",") if x]

def vcode(v):
    return {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}.get(v, "00")

def alpn(a):
    if not a:
        return "00"
    b = a.encode()
    if chr(b[0]).isalnum() and chr(b[-1]).isalnum():
        return chr(b[0]) + chr(b[-1])
    x = b.hex()
    return x[0] + x[-1]

cmd = ["tshark", "-r", sys.argv[1], "-Y", "tls.handshake.type==1 || tls.handshake.type==2", "-T", "fields",
       "-E", "occurrence=a", "-E", "aggregator=,"] + sum([["-e", f] for f in FIELDS], [])
for line in subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines():
    v = dict(zip(FIELDS, line.split("\t")))
    kind = nums(v["tls.handshake.type"])[0]
    ver = nums(v["tls.handshake.version"])[0]
    ciphers = [c for c in nums(v["tls.handshake.ciphersuite"]) if c not in GREASE]
    exts = [e for e in nums(v["tls.handshake.extension.type"]) if e not in GREASE]
    sv = [x for x in nums(v["tls.handshake.extensions.supported_version"]) if x not in GREASE]
    alpns = v["tls.handshake.extensions_alpn_str"].split(",") if v["tls.handshake.extensions_alpn_str"] else []
    print(f"frame {v['frame.number']} type {kind} legacy {ver:#06x} sni {v['tls.handshake.extensions_server_name']!r} alpn {alpns}")
    print("  ciphers", ",".join(f"{c:04x}" for c in ciphers))
    print("  exts   ", ",".join(f"{e:04x}" for e in exts))
    print("  sigs   ", v["tls.handshake.sig_hash_alg"])
    print("  versions", v["tls.handshake.extensions.supported_version"], "groups", v["tls.handshake.extensions_supported_group"],
          "ecpf", v["tls.handshake.extensions_ec_point_format"], "ks", v["tls.handshake.extensions_key_share_group"],
          "ks_sel", v["tls.handshake.extensions_key_share_selected_group"])
    if kind == 1:
        version = max(sv) if 0x002b in exts and sv else ver
        sigs = ",".join(f"{s:04x}" for s in nums(v["tls.handshake.sig_hash_alg"]) if s not in GREASE)
        a = f"t{vcode(version)}{'d' if 0 in exts else 'i'}{min(len(ciphers),99):02}{min(len(exts),99):02}{alpn(alpns[0] if alpns else '')}"
        e = ",".join(f"{x:04x}" for x in sorted(x for x in exts if x not in (0, 0x10)))
        es = e + ("_" + sigs if sigs else "")
        print("  JA4  ", f"{a}_{h12(','.join(f'{c:04x}' for c in sorted(ciphers)))}_{h12(e and es)}")
        print("  JA4_r", f"{a}_{','.join(f'{c:04x}' for c in sorted(ciphers))}_{es}")
    else:
        version = sv[0] if sv else ver
        e = ",".join(f"{x:04x}" for x in exts)
        a = f"t{vcode(version)}{min(len(exts),99):02}{alpn(alpns[0] if alpns else '')}_{ciphers[0]:04x}"
        print("  JA4S ", f"{a}_{h12(e)}")
