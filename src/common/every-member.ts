/**
 * A list of every member of the string union `T`, checked by the compiler: a member left out (or
 * one that is not in `T`) fails `tsc`. For the enums the OpenAPI document lists, so that a code
 * added to the contract (`src/http/contract.ts`) cannot be missing from them.
 *
 * `everyMember<AlertCode>()(['TOO_MANY_SESSIONS', …])`
 */
export const everyMember =
  <T extends string>() =>
  <const L extends readonly T[]>(
    list: L &
      ([Exclude<T, L[number]>] extends [never] ? unknown : { missing: Exclude<T, L[number]> }),
  ): L =>
    list;
