#!/usr/bin/env bash
# make-fixtures.sh: regenerate the parser fixtures in tests/data/fixtures/ from
# the committed Markdown source fixtures/mongolia.md.
#
# Needs: pandoc, LibreOffice (soffice, writer) and coreutils.
# Outputs (all small, committed):
#   mongolia.html  pandoc, standalone, <title>Mongolia</title>
#   mongolia.docx  pandoc, with a page break before "## Government"
#   mongolia.pdf   LibreOffice headless from the docx (2 pages)
#   scanned.pdf    hand-written valid PDF: one page, a filled rectangle, no text
#   broken.pdf     a PDF header followed by truncated garbage
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fx="$here/fixtures"
src="$fx/mongolia.md"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for tool in pandoc soffice; do
    command -v "$tool" >/dev/null || { echo "make-fixtures: $tool not found" >&2; exit 1; }
done

# HTML: standalone page; pagetitle sets <title> without adding a title block.
pandoc "$src" -f markdown -t html5 -s --metadata pagetitle=Mongolia -o "$fx/mongolia.html"

# DOCX: insert a hard page break before the Government section so that the
# PDF made from it has two pages. The raw block only exists in the temp copy.
awk '/^## Government/ { print "```{=openxml}"; print "<w:p><w:r><w:br w:type=\"page\"/></w:r></w:p>"; print "```"; print "" } { print }' \
    "$src" > "$tmp/mongolia.md"
pandoc "$tmp/mongolia.md" -f markdown -t docx -o "$fx/mongolia.docx"

# PDF: LibreOffice from the docx. A private profile dir keeps it from
# clashing with a running instance.
soffice -env:UserInstallation="file://$tmp/lo-profile" --headless \
    --convert-to pdf --outdir "$tmp" "$fx/mongolia.docx" >/dev/null 2>&1
cp "$tmp/mongolia.pdf" "$fx/mongolia.pdf"

# scanned.pdf: a minimal PDF whose only page draws a grey rectangle (no text
# operators at all), standing in for a scanned page without a text layer.
out="$fx/scanned.pdf"
content='0.5 g 72 72 451 698 re f'
objs=(
    '<< /Type /Catalog /Pages 2 0 R >>'
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>'
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>'
    "<< /Length ${#content} >>
stream
${content}
endstream"
)
{
    printf '%%PDF-1.4\n'
    offsets=()
    pos=9
    for i in "${!objs[@]}"; do
        offsets+=("$pos")
        obj="$((i + 1)) 0 obj
${objs[$i]}
endobj
"
        printf '%s' "$obj"
        pos=$((pos + ${#obj}))
    done
    printf 'xref\n0 %d\n0000000000 65535 f \n' "$((${#objs[@]} + 1))"
    for off in "${offsets[@]}"; do printf '%010d 00000 n \n' "$off"; done
    printf 'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' "$((${#objs[@]} + 1))" "$pos"
} > "$out"

# broken.pdf: a PDF header, the first object cut off mid-way, then garbage.
{
    printf '%%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n'
    printf 'garbage \x00\x01\x02 not a pdf body \xff\xfe'
    printf 'stream\nx\x9c\x0b\x0e'
} > "$fx/broken.pdf"

ls -l "$fx"
