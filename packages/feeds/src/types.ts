/**
 * The shapes of a product feed as lookalike reads it: one `FeedProduct` per product (Shopify
 * variants folded), or a row that was skipped with its code.
 */

export type FeedFormat = 'csv' | 'tsv' | 'json' | 'jsonl' | 'xml';

/** The fields lookalike maps feed columns onto (`--map field=column`). */
export const FEED_FIELDS = [
  'id',
  'title',
  'link',
  'imageUrl',
  'additionalImageUrls',
  'price',
  'salePrice',
  'brand',
  'gender',
  'ageGroup',
  'color',
  'productType',
  'category',
  'availability',
  'groupId',
] as const;
export type FeedField = (typeof FEED_FIELDS)[number];

/** A price: amount and ISO currency when unambiguous, else the feed's text (never guessed). */
export type Price = { amount: string; currency: string; text: string } | { text: string };

export type Availability = 'in_stock' | 'out_of_stock' | 'preorder' | 'backorder';

export interface FeedProduct {
  /** The product id (Merchant `id`, Shopify `Handle`, Kaggle `id`). Unique within a feed. */
  id: string;
  /** The image the vector is made from (http/https URL, or a path relative to the feed file for local feeds). */
  imageUrl: string;
  title?: string;
  link?: string;
  additionalImageUrls: string[];
  price?: Price;
  salePrice?: Price;
  brand?: string;
  gender?: string;
  ageGroup?: string;
  color?: string;
  productType?: string;
  category?: string;
  availability?: Availability;
  groupId?: string;
  /** Shopify: the variants folded into this product (option values, price). */
  variants?: { title: string; price?: Price }[];
  /** Columns not mapped onto a field, as text. */
  extra: Record<string, string>;
}

/** One step of reading a feed. */
export type FeedRow =
  | { ok: true; product: FeedProduct; line: number }
  | {
      ok: false;
      /** Where the row starts (1-based line; for JSON the array index + 1). */
      line: number;
      /** FEED_ROW_NO_ID, FEED_ROW_NO_IMAGE, FEED_ROW_BAD_URL, FEED_ROW_DUPLICATE_ID, FEED_ROW_MALFORMED … */
      code: string;
      message: string;
    };

export interface ReadFeedOptions {
  /** @defaultValue detected from the first bytes (and the file name, when given) */
  format?: FeedFormat;
  /** Extra column names per field, e.g. { imageUrl: 'Picture URL' }: tried before the known names. */
  map?: Partial<Record<FeedField, string>>;
  /** For detection and messages. */
  name?: string;
  /**
   * Longest row (or JSON value, or XML item) in bytes; a longer one is skipped as
   * FEED_ROW_MALFORMED, so one broken quote cannot swallow the rest of a 2 GB feed. @defaultValue 1 MiB
   */
  maxRowBytes?: number;
  /**
   * The feed's own URL: relative image URLs and links are resolved against it. Without it, a
   * relative image URL is kept as written (a path relative to a local feed file) and a relative
   * link is a FEED_ROW_BAD_URL.
   */
  baseUrl?: string;
  /**
   * ISO 4217 code for prices written without one (the Shopify export's `Variant Price` is a bare
   * number). @defaultValue none: such prices stay text
   */
  currency?: string;
}
