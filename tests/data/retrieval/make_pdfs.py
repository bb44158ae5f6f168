#!/usr/bin/env python3
"""Writes the tiny PDFs the retrieval tests read (hand-built, no PDF library needed):
two_pages.pdf (valid, one line of text per page), truncated.pdf (the same cut in half) and
not_a_pdf.pdf (text with a .pdf name)."""
import os

here = os.path.dirname(os.path.abspath(__file__))


def pdf(pages):
    objs = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font_id = 3 + 2 * n
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                    f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


good = pdf(["Photosynthesis converts sunlight into chemical energy.",
            "Mitochondria are the powerhouse of the cell."])
with open(os.path.join(here, "two_pages.pdf"), "wb") as f:
    f.write(good)
with open(os.path.join(here, "truncated.pdf"), "wb") as f:
    f.write(good[:len(good) // 3])
with open(os.path.join(here, "not_a_pdf.pdf"), "wb") as f:
    f.write(b"just some text pretending to be a PDF\n")
