/**
 * Builders for the gateway.yaml JSON Schema (src/config/schema.ts and the sections it composes)
 * on top of TypeBox, so each part of the configuration is written once: as a schema that Ajv
 * validates, from which the TypeScript type is derived (`Defaulted<typeof schema>`).
 *
 * The builders emit plain JSON Schema, keyword for keyword what the hand-written schema had
 * (`enum` and `oneOf` as such, maps as `additionalProperties`), so Ajv accepts, refuses and
 * reports exactly as before.
 */

import {
  CloneType,
  Type,
  type Evaluate,
  type ObjectOptions,
  type SchemaOptions,
  type Static,
  type TArray,
  type TObject,
  type TOptional,
  type TProperties,
  type TSchema,
  type TUnion,
  type TUnsafe,
} from '@sinclair/typebox';

/**
 * A property with a default: optional in gateway.yaml, always present once Ajv (`useDefaults`)
 * has validated it. The `default` in the type is what `Defaulted` reads.
 */
export type TDefault<T extends TSchema> = TOptional<T> & { default: Static<T> };

/** `schema` with a default value, which must itself be a valid value of `schema`. */
export function Default<T extends TSchema>(schema: T, value: Static<T>): TDefault<T> {
  // CloneType adds the `default` keyword; its declared type (T) just does not say so.
  return Type.Optional(CloneType(schema, { default: value })) as TDefault<T>;
}

/**
 * The value a schema describes after validation has filled the defaults: a property with a
 * `default` is present (required), one without stays optional unless the schema requires it.
 * `Static<typeof schema>` is the other side: what a user may write (defaulted keys optional).
 */
export type Defaulted<T extends TSchema> =
  T extends TMap<infer V>
    ? { [key: string]: Defaulted<V> }
    : T extends TObject<infer P>
      ? DefaultedObject<P>
      : T extends TArray<infer I>
        ? Defaulted<I>[]
        : T extends TUnion<infer U>
          ? Defaulted<U[number]>
          : Static<T>;

/** Keys present after defaults: required ones, and optional ones with a default. */
type PresentKeys<P extends TProperties> = {
  [K in keyof P]: P[K] extends TOptional<TSchema> ? (P[K] extends { default: unknown } ? K : never) : K;
}[keyof P];

type DefaultedObject<P extends TProperties> = Evaluate<
  { [K in keyof P as K extends PresentKeys<P> ? K : never]-?: Defaulted<P[K]> } & {
    [K in keyof P as K extends PresentKeys<P> ? never : K]?: Defaulted<P[K]>;
  }
>;

/** An object whose unknown keys are errors: a typo in gateway.yaml must not be silently ignored. */
export function Closed<P extends TProperties>(properties: P, options?: ObjectOptions): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A map from any key to `values`: `{ type: object, additionalProperties: values }`. */
export interface TMap<V extends TSchema> extends TUnsafe<{ [key: string]: Static<V> }> {
  type: 'object';
  additionalProperties: V;
}

export function MapOf<V extends TSchema>(values: V, options?: SchemaOptions): TMap<V> {
  // Not Type.Record: that emits patternProperties, which would change what is accepted and how
  // errors read. The declared type adds the two keywords the object is built with.
  return Type.Unsafe<{ [key: string]: Static<V> }>({ ...options, type: 'object', additionalProperties: values }) as TMap<V>;
}

/**
 * `{ enum: values }`, typed as the union of the values. (Type.Union of literals would emit
 * `anyOf`, whose errors do not list the allowed values.)
 */
export function StringEnum<const T extends readonly string[]>(values: T, options?: SchemaOptions): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, enum: [...values] });
}

/** `{ const: value }` (Type.Literal would add a `type` keyword, and with it another error). */
export function Constant<const V extends string | number | boolean>(value: V): TUnsafe<V> {
  return Type.Unsafe<V>({ const: value });
}

/** `{ oneOf: schemas }`: exactly one must match. Typed as the union of the schemas' types. */
export function OneOf<T extends TSchema[]>(schemas: [...T], options?: SchemaOptions): TUnsafe<Static<T[number]>> {
  return Type.Unsafe<Static<T[number]>>({ ...options, oneOf: schemas });
}

/**
 * `{ type: object }` with any keys: a map whose values are owned, and checked, by what reads
 * them (plugin options by the plugin, inline keys by the key store), typed as they will be.
 */
export function OpenObject<T extends { [key: string]: unknown } = { [key: string]: unknown }>(options?: SchemaOptions): TUnsafe<T> {
  return Type.Unsafe<T>({ ...options, type: 'object' });
}

/** `{ type: array }` of any items, owned and checked by what reads them (see OpenObject). */
export function OpenArray<T = unknown>(options?: SchemaOptions): TUnsafe<T[]> {
  return Type.Unsafe<T[]>({ ...options, type: 'array' });
}

/** The same optional property schema under each of `keys`. */
export function OptionalEach<const K extends string, S extends TSchema>(keys: readonly K[], schema: S): { [P in K]: TOptional<S> } {
  const optional = Type.Optional(schema as TSchema);
  return Object.fromEntries(keys.map((k) => [k, optional])) as { [P in K]: TOptional<S> };
}
