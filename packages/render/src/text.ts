/**
 * Text helpers for SVG drawn by sharp (librsvg): XML escaping and width estimates for
 * DejaVu Sans, so labels can be truncated with an ellipsis before drawing.
 */

/** Escapes text for SVG/XML content and attributes; drops characters XML forbids. */
export function escapeXml(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

// DejaVu Sans Book advance widths (units per em 2048) for printable ASCII 0x20–0x7e.
const ADVANCES = [
  651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303,
  1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540,
  604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403, 799, 690,
  799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298, 1253, 1300,
  1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];
const DEFAULT_ADVANCE = 1350;
const BOLD_FACTOR = 1.13;

/** Estimated rendered width in pixels of `text` in DejaVu Sans at `fontSize` px. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    units += code >= 0x20 && code <= 0x7e ? (ADVANCES[code - 0x20] ?? DEFAULT_ADVANCE) : DEFAULT_ADVANCE;
  }
  return ((units * fontSize) / 2048) * (bold ? BOLD_FACTOR : 1);
}

/** `text` cut with "…" so that it fits in `maxWidth` pixels (estimated). */
export function truncateToWidth(text: string, maxWidth: number, fontSize: number, bold = false): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  if (textWidth(clean, fontSize, bold) <= maxWidth) return clean;
  const chars = [...clean];
  const ellipsis = textWidth('…', fontSize, bold);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (textWidth(chars.slice(0, mid).join(''), fontSize, bold) + ellipsis <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return `${chars.slice(0, lo).join('').trimEnd()}…`;
}
