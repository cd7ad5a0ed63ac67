/** The BigQuery types an attribute column may have. */
export const ATTRIBUTE_TYPES = ["STRING", "INT64", "FLOAT64", "BOOL"] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

/** A whitelisted query parameter and the type of its column. */
export interface AttributeSpec {
  readonly name: string;
  readonly type: AttributeType;
}
