/** Response shapes shared by several routes. */
import { Type } from '@sinclair/typebox';

export const ErrorBody = Type.Object({
  success: Type.Literal(false),
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});
