/** CORS is off unless origins are listed; only a listed origin is ever echoed (never `*`). */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"

/** Answer browsers' preflights and mark answers for the listed origins; nothing when none are listed. */
export const withCors = (origins: ReadonlyArray<string>) => (app: HttpApp.Default): HttpApp.Default => {
  if (origins.length === 0) return app
  const allowed = new Set(origins)
  // The predicate form echoes the request's origin only when it is listed; with a plain list of one
  // origin, HttpMiddleware.cors would send that origin to everyone.
  return HttpMiddleware.cors({
    allowedOrigins: (origin) => allowed.has(origin),
    allowedMethods: ["GET", "POST", "PUT", "DELETE"],
    allowedHeaders: ["authorization", "content-type"],
    maxAge: 600
  })(app)
}
