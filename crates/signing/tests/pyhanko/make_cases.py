"""Signed PDFs made by another stack (pyHanko), and pyHanko's verdict on each signature.

    make_cases.py OUT_DIR
    make_cases.py OUT_DIR --two-approvals

OUT_DIR must hold base.pdf (a one-page PDF) and form.pdf (one page, a text field "objet").
With --two-approvals, only the case a_two_approvals is made (a letter approved by two
signers one after the other), on a one-page base.pdf that the script writes itself when
OUT_DIR has none: the other crates' tests (the binary's `pdf verify`, the item page) use it.
Writes a throwaway PKI (root.pem: root of the signers and of the TSA), one PDF per case
(CASE.pdf), and OUT_DIR/cases.tsv: one line per signature, "case<TAB>field<TAB>verdict<TAB>
detail", in the order pyHanko lists them, where verdict is valid / modified / invalid / untrusted, judged per signature the way
pades_report.py (verify-pades) calls pyHanko. Run by the parapheur-signing tests
(tests/integration/foreign.rs), with the venv that verify-pades installs.
"""
import datetime
import io
import logging
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, MDPPerm, SigFieldSpec
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

logging.disable(logging.CRITICAL)  # pyHanko logs each refused revision with a traceback
OUT = sys.argv[1]
NOW = datetime.datetime.now(datetime.timezone.utc)


def path(name):
    return os.path.join(OUT, name)


# ---------------------------------------------------------------- a throwaway PKI
def _name(cn):
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Banc d'essai pyHanko"),
    ])


def _cert(cn, key, issuer_cn, issuer_key, ca=False, tsa=False, pathlen=None, signing=True,
          eku=True):
    ku = dict(digital_signature=not ca and signing, content_commitment=not ca and not tsa and signing,
              key_encipherment=not signing, data_encipherment=False, key_agreement=False,
              key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)
    b = (x509.CertificateBuilder()
         .subject_name(_name(cn)).issuer_name(_name(issuer_cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW - datetime.timedelta(days=1))
         .not_valid_after(NOW + datetime.timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen), critical=True)
         .add_extension(x509.KeyUsage(**ku), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if tsa and eku:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return b.sign(issuer_key, hashes.SHA256())


def _write(name, key, cert):
    with open(path(name + ".key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(path(name + ".pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


root_key = ec.generate_private_key(ec.SECP256R1())
root = _cert("Racine pyHanko", root_key, "Racine pyHanko", root_key, ca=True)
_write("root", root_key, root)
for who, cn, tsa in [("alice", "Alice Lefèvre", False), ("bob", "Bob Marchand", False),
                     ("tsa", "Horodatage pyHanko", True)]:
    # pyHanko's dummy TSA signs with RSA only
    k = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if tsa
         else ec.generate_private_key(ec.SECP256R1()))
    _write(who, k, _cert(cn, k, "Racine pyHanko", root_key, tsa=tsa))

def _ec():
    return ec.generate_private_key(ec.SECP256R1())


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# Certificates that must not be trusted (findings 1 and 2 of the security review)
_k = _rsa()
_write("tsa_noeku", _k, _cert("Horodatage sans usage", _k, "Racine pyHanko", root_key, tsa=True, eku=False))
_fk = _ec()
_write("fake_root", _fk, _cert("Racine bricolée", _fk, "Racine bricolée", _fk, ca=True))
_k = _rsa()
_write("fake_tsa", _k, _cert("Horodatage bricolé", _k, "Racine bricolée", _fk, tsa=True))
_ik = _ec()  # an end-entity certificate (CA:FALSE) used as an issuer
_write("not_ca", _ik, _cert("Agent sans droit d'émettre", _ik, "Racine pyHanko", root_key))
_k = _ec()
_write("sylvie", _k, _cert("Sylvie Moreau", _k, "Agent sans droit d'émettre", _ik))
_pk = _ec()  # a CA that allows no intermediate below it...
_write("ca_len0", _pk, _cert("Autorité longueur 0", _pk, "Racine pyHanko", root_key, ca=True, pathlen=0))
_qk = _ec()  # ...and one below it anyway
_write("ca_below", _qk, _cert("Autorité de trop", _qk, "Autorité longueur 0", _pk, ca=True))
_k = _ec()
_write("deep", _k, _cert("Claire Deschamps", _k, "Autorité de trop", _qk))
_k = _ec()  # a certificate for encryption, not for signing
_write("no_sign", _k, _cert("Denis Chiffre", _k, "Racine pyHanko", root_key, signing=False))

ALICE = signers.SimpleSigner.load(path("alice.key"), path("alice.pem"), ca_chain_files=(path("root.pem"),))
BOB = signers.SimpleSigner.load(path("bob.key"), path("bob.pem"), ca_chain_files=(path("root.pem"),))
TSA = DummyTimeStamper(tsa_cert=load_cert_from_pemder(path("tsa.pem")),
                       tsa_key=load_private_key_from_pemder(path("tsa.key"), None))
ROOT = load_cert_from_pemder(path("root.pem"))


def _signer(name, *chain):
    return signers.SimpleSigner.load(path(name + ".key"), path(name + ".pem"),
                                     ca_chain_files=tuple(path(c + ".pem") for c in chain))


def _tsa(name, fixed_dt=None):
    return DummyTimeStamper(tsa_cert=load_cert_from_pemder(path(name + ".pem")),
                            tsa_key=load_private_key_from_pemder(path(name + ".key"), None),
                            fixed_dt=fixed_dt)


def vc():
    return ValidationContext(trust_roots=[ROOT], allow_fetching=False, revocation_mode="soft-fail")


# ---------------------------------------------------------------- building blocks
def _done(w):
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def sign(data, signer, field, certify=None, existing=False, box=(300, 60, 520, 120),
         timestamper=None, lock=None):
    meta = signers.PdfSignatureMetadata(
        field_name=field, certify=certify is not None,
        docmdp_permissions=certify or MDPPerm.FILL_FORMS,
        subfilter=fields.SigSeedSubFilter.PADES)
    spec = None if existing else SigFieldSpec(field, box=box, field_mdp_spec=lock)
    pdf_signer = signers.PdfSigner(meta, signer, timestamper=timestamper, new_field_spec=spec)
    return pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data))).getvalue()


def add_empty_field(data, name, box=(60, 60, 280, 120)):
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    fields.append_signature_field(w, SigFieldSpec(name, box=box))
    return _done(w)


def _page(w):
    ref = w.root["/Pages"].raw_get("/Kids")[0]
    return ref, ref.get_object()


def _stream(w, text):
    return w.add_object(generic.StreamObject(stream_data=text))


FORGED = b"BT /F1 14 Tf 72 700 Td (Montant : 1 000 000 EUR) Tj ET"


def replace_page_content(data):
    """Page 1 gets a new content stream (a new object)."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    ref, page = _page(w)
    page[pdf_name("/Contents")] = _stream(w, FORGED)
    w.update_container(page)
    return _done(w)


def rewrite_content_in_place(data):
    """Hide-and-replace: the page's existing content stream object is redefined."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    _, page = _page(w)
    cref = page.raw_get("/Contents").reference
    w.mark_update(cref)
    stream = w.objects[(cref.generation, cref.idnum)]
    stream._data, stream._encoded_data = FORGED, None
    stream.pop("/Filter", None)
    return _done(w)


def add_orphan(data):
    """Before signing: an object nothing uses yet (shadow attack, hide variant)."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    ref = _stream(w, FORGED)
    w.update_root()
    return _done(w), ref.idnum


def use_orphan(data, idnum):
    """After signing: page 1 now shows the object added before signing."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    _, page = _page(w)
    page[pdf_name("/Contents")] = generic.IndirectObject(idnum, 0, w)
    w.update_container(page)
    return _done(w)


def new_catalog(data):
    """A new catalog and page tree (new object numbers), the trailer pointing at them."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    old_root = w.root
    _, old_page = _page(w)
    pages = generic.DictionaryObject({pdf_name("/Type"): pdf_name("/Pages"),
                                      pdf_name("/Count"): generic.NumberObject(1)})
    pages_ref = w.add_object(pages)
    page = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Page"), pdf_name("/Parent"): pages_ref,
        pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(x) for x in (0, 0, 595, 842)]),
        pdf_name("/Resources"): old_page.raw_get("/Resources"),
        pdf_name("/Contents"): _stream(w, FORGED),
    })
    if "/Annots" in old_page:
        page[pdf_name("/Annots")] = old_page.raw_get("/Annots")
    pages[pdf_name("/Kids")] = generic.ArrayObject([w.add_object(page)])
    cat = generic.DictionaryObject({pdf_name("/Type"): pdf_name("/Catalog"), pdf_name("/Pages"): pages_ref})
    if "/AcroForm" in old_root:
        cat[pdf_name("/AcroForm")] = old_root.raw_get("/AcroForm")
    w._root = w.add_object(cat)
    return _done(w)


def add_annotation(data, subtype="/Text"):
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    _, page = _page(w)
    annot = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name(subtype),
        pdf_name("/Rect"): generic.ArrayObject([generic.NumberObject(x) for x in (72, 500, 300, 540)]),
        pdf_name("/Contents"): generic.TextStringObject("Montant : 1 000 000 EUR"),
    })
    if subtype == "/FreeText":
        annot[pdf_name("/DA")] = generic.TextStringObject("/Helv 14 Tf 0 g")
    ref = w.add_object(annot)
    annots = page.get("/Annots")
    if annots is None:
        page[pdf_name("/Annots")] = generic.ArrayObject([ref])
        w.update_container(page)
    else:
        annots.append(ref)
        w.update_container(annots)
    return _done(w)


def free_page_content(data):
    """An xref section that frees page 1's content stream (classic tables only)."""
    import re
    r = PdfFileReader(io.BytesIO(data))
    cref = r.root["/Pages"]["/Kids"][0].get_object().raw_get("/Contents").reference
    prev = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    size = int(r.trailer["/Size"])
    root = r.trailer.raw_get("/Root").reference
    at = len(data) + 1
    tail = (b"\nxref\n0 1\n0000000000 65535 f \n%d 1\n0000000000 %05d f \n"
            b"trailer\n<< /Size %d /Root %d %d R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (cref.idnum, cref.generation + 1, size, root.idnum, root.generation, prev, at))
    return data + tail


def add_open_action(data):
    """A JavaScript action run when the document opens."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    js = generic.DictionaryObject({pdf_name("/S"): pdf_name("/JavaScript"),
                                   pdf_name("/JS"): generic.TextStringObject("app.alert('x')")})
    w.root[pdf_name("/OpenAction")] = w.add_object(js)
    w.update_root()
    return _done(w)


def add_page(data):
    """A second page appended to the page tree."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    pages = w.root["/Pages"]
    page = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Page"), pdf_name("/Parent"): w.root.raw_get("/Pages"),
        pdf_name("/Contents"): _stream(w, FORGED),
    })
    pages["/Kids"].append(w.add_object(page))
    pages[pdf_name("/Count")] = generic.NumberObject(2)
    w.update_container(pages)
    return _done(w)


def add_unused_object_and_info(data):
    """Harmless: an object nothing refers to, and the document information updated."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    _stream(w, FORGED)
    w.set_info(w._info.get_object() if w._info else generic.DictionaryObject())
    info = w._info.get_object()
    info[pdf_name("/Title")] = generic.TextStringObject("Titre changé")
    w.update_container(info)
    return _done(w)


def fill_field(data, value):
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    for fref in w.root["/AcroForm"]["/Fields"]:
        f = fref.get_object()
        if f.get("/T") == "objet":
            f[pdf_name("/V")] = generic.TextStringObject(value)
            w.update_container(f)
    return _done(w)


def add_dss(data):
    """PAdES B-LT: a DSS with the certificates, in its own revision."""
    out = io.BytesIO(data)
    r = PdfFileReader(out)
    sig = r.embedded_signatures[-1]
    certs = [load_cert_from_pemder(path(n + ".pem")) for n in ("root", "alice", "bob", "tsa")]
    DocumentSecurityStore.add_dss(out, sig.pkcs7_content, certs=certs)
    return out.getvalue()


def doc_timestamp(data):
    """PAdES B-LTA: a document time-stamp."""
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    return signers.PdfTimeStamper(TSA).timestamp_pdf(w, "sha256", vc()).getvalue()


# ---------------------------------------------------------------- pyHanko's verdicts
def verdicts(data):
    out = []
    for s in PdfFileReader(io.BytesIO(data)).embedded_signatures:
        try:
            if s.sig_object.get("/Type") == "/DocTimeStamp":
                st = validate_pdf_timestamp(s, vc())
            else:
                st = validate_pdf_signature(s, vc())
            docmdp_ok = getattr(st, "docmdp_ok", None)
            cov = st.coverage.name
            if not (st.intact and st.valid):
                v = "invalid"
            elif (cov not in ("ENTIRE_FILE", "ENTIRE_REVISION") or docmdp_ok is False
                  or (st.modification_level is not None and st.modification_level.name == "OTHER")):
                # (a document time-stamp has no docmdp_ok: its modification level tells)
                v = "modified"
            elif not st.trusted:
                v = "untrusted"
            else:
                v = "valid"
            lvl = st.modification_level.name if st.modification_level else None
            detail = "intact=%s valid=%s trusted=%s coverage=%s modlevel=%s docmdp_ok=%s" % (
                st.intact, st.valid, st.trusted, cov, lvl, docmdp_ok)
        except Exception as e:  # noqa: BLE001 (a verdict, not a crash)
            v, detail = "invalid", "%s: %s" % (type(e).__name__, e)
        out.append({"field": s.field_name, "verdict": v, "detail": detail})
    return out


def one_page_pdf(text):
    """A one-page PDF showing `text`, written by hand (pyHanko signs what it is given)."""
    content = b"BT /F1 14 Tf 72 760 Td (" + text.encode("latin-1") + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_tsv(cases):
    with open(path("cases.tsv"), "w", encoding="utf-8") as f:
        for name, sigs in cases.items():
            for s in sigs:
                detail = s["detail"].replace("\t", " ").replace("\n", " ")
                f.write("%s\t%s\t%s\t%s\n" % (name, s["field"], s["verdict"], detail))


def two_approvals_only():
    if not os.path.exists(path("base.pdf")):
        with open(path("base.pdf"), "wb") as f:
            f.write(one_page_pdf("Arrete du maire : approuve par deux signataires"))
    base = open(path("base.pdf"), "rb").read()
    a = sign(sign(base, ALICE, "Signature1"), BOB, "Signature2", box=(60, 60, 280, 120))
    with open(path("a_two_approvals.pdf"), "wb") as f:
        f.write(a)
    write_tsv({"a_two_approvals": verdicts(a)})


def main():
    if "--two-approvals" in sys.argv[2:]:
        return two_approvals_only()
    base = open(path("base.pdf"), "rb").read()
    form = open(path("form.pdf"), "rb").read()
    cases = {}

    def case(name, data):
        with open(path(name + ".pdf"), "wb") as f:
            f.write(data)
        cases[name] = verdicts(data)

    # (a) two approval signatures, one after the other
    a1 = sign(base, ALICE, "Signature1")
    a = sign(a1, BOB, "Signature2", box=(60, 60, 280, 120))
    case("a_two_approvals", a)
    case("a_two_approvals+page_content", replace_page_content(a))
    case("a_two_approvals+new_catalog", new_catalog(a))
    case("a_first+new_catalog+second", sign(new_catalog(a1), BOB, "Signature2", box=(60, 60, 280, 120)))
    case("a_two_approvals+content_in_place", rewrite_content_in_place(a))
    case("a_two_approvals+freetext_overlay", add_annotation(a, "/FreeText"))
    case("a_two_approvals+open_action", add_open_action(a))
    case("a_two_approvals+freed_content", free_page_content(a))
    case("a_two_approvals+new_page", add_page(a))
    case("a_two_approvals+unused_object_and_info", add_unused_object_and_info(a))
    case("a_approval+form_filled", fill_field(sign(form, ALICE, "Signature1"), "Autre objet"))

    # Field locks (FieldMDP): filling a locked field is refused, another field is not
    locked = FieldMDPSpec(FieldMDPAction.INCLUDE, fields=["objet"])
    case("lock_objet+form_filled", fill_field(sign(form, ALICE, "Signature1", lock=locked), "Autre objet"))
    other = FieldMDPSpec(FieldMDPAction.INCLUDE, fields=["autre"])
    case("lock_other+form_filled", fill_field(sign(form, ALICE, "Signature1", lock=other), "Autre objet"))

    # (b) certification P=2, then a second person signs an existing empty field
    b1 = sign(add_empty_field(base, "Signature2"), ALICE, "Signature1", certify=MDPPerm.FILL_FORMS)
    b = sign(b1, BOB, "Signature2", existing=True)
    case("b_certified_p2+existing_field", b)
    case("b_certified_p2+existing_field+new_catalog", new_catalog(b))
    case("b_certified_p2+new_visible_field", sign(b1, BOB, "Signature3", box=(60, 200, 280, 260)))

    # (c) certification P=2 then form filling; P=1 then form filling
    c1 = sign(form, ALICE, "Signature1", certify=MDPPerm.FILL_FORMS)
    case("c_certified_p2+form_filled", fill_field(c1, "Autre objet"))
    c2 = sign(form, ALICE, "Signature1", certify=MDPPerm.NO_CHANGES)
    case("c_certified_p1+form_filled", fill_field(c2, "Autre objet"))
    case("c_certified_p2+form_filled+page_content", replace_page_content(fill_field(c1, "Autre objet")))

    # (d) certification P=3 then an annotation; P=2 then an annotation
    d1 = sign(base, ALICE, "Signature1", certify=MDPPerm.ANNOTATE)
    case("d_certified_p3+annotation", add_annotation(d1))
    d2 = sign(base, ALICE, "Signature1", certify=MDPPerm.FILL_FORMS)
    case("d_certified_p2+annotation", add_annotation(d2))

    # (e) B-LT: a DSS after the signature (also after a P=1 certification)
    e = add_dss(sign(base, ALICE, "Signature1", timestamper=TSA))
    case("e_b_lt", e)
    case("e_b_lt+page_content", replace_page_content(e))
    case("e_certified_p1+dss", add_dss(sign(base, ALICE, "Signature1", certify=MDPPerm.NO_CHANGES)))

    # (f) B-LTA: a document time-stamp over the B-LT file
    f = doc_timestamp(e)
    case("f_b_lta", f)
    case("f_b_lta+annotation", add_annotation(f))

    # Finding 1: a self-made TSA re-dates a signature 30 days back; a TSA without the
    # timeStamping extended key usage
    back = NOW - datetime.timedelta(days=30)
    case("ts_forged_tsa", sign(base, ALICE, "Signature1", timestamper=_tsa("fake_tsa", back)))
    case("ts_tsa_without_eku", sign(base, ALICE, "Signature1", timestamper=_tsa("tsa_noeku")))

    # Finding 2: chains that must not be trusted
    case("chain_ca_false", sign(base, _signer("sylvie", "not_ca", "root"), "Signature1"))
    case("chain_path_length", sign(base, _signer("deep", "ca_below", "ca_len0", "root"), "Signature1"))
    case("chain_no_signing_usage", sign(base, _signer("no_sign", "root"), "Signature1"))

    # Shadow attack, hide variant: an unused object before signing, used after
    with_orphan, idnum = add_orphan(base)
    case("shadow_hide", use_orphan(sign(with_orphan, ALICE, "Signature1"), idnum))

    write_tsv(cases)


main()
