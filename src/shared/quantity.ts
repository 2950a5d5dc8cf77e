// Kubernetes resource quantities (cpu "250m", memory "96Mi") as numbers, to
// compare a grant's agent resources with a policy's cap. Only the forms the
// CRDs accept: a decimal number with an optional SI or binary suffix.
const SUFFIX: Readonly<Record<string, number>> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

/** The quantity in base units (cores, bytes). Throws on a form the schema rejects. */
export function parseQuantity(text: string): number {
  const match = QUANTITY.exec(text);
  if (!match) throw new Error(`not a quantity: ${JSON.stringify(text)}`);
  return Number(match[1]) * SUFFIX[match[2] ?? ""]!;
}
