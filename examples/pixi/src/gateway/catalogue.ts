/** The items the inventory knows and the load generator asks for: a fixed, small catalogue. */
export const CATALOGUE: readonly string[] = Object.freeze(
  Array.from({ length: 20 }, (_, index) => `sku-${index + 1}`),
);

/** Whether `item` is in the catalogue. */
export function isCatalogued(item: string): boolean {
  return CATALOGUE.includes(item);
}
