/**
 * Architecture rules for src/** and plugins/**, checked by test/unit/architecture.test.ts
 * (which runs `depcruise --config .dependency-cruiser.cjs --output-type json src plugins`).
 *
 * Paths are matched relative to the directory depcruise runs in (the repo root), e.g.
 * `src/domain/errors.ts`, `plugins/quota/index.ts`, `node_modules/@grpc/grpc-js/...`.
 * Type-only imports (`import type`, imports used only as types) count as edges everywhere:
 * `tsPreCompilationDeps: true` keeps them, and no rule filters them out.
 *
 * Run by hand: npx depcruise --config .dependency-cruiser.cjs src plugins
 */

/** gRPC / protobuf packages and .proto files: only src/envoy/** may touch them. */
const GRPC_PACKAGES = '(@grpc/(grpc-js|grpc-js-xds|proto-loader)|protobufjs)(/|$)';
const ENVOY_WIRE = [
  `(^|/)node_modules/${GRPC_PACKAGES}`, // resolved package
  `^${GRPC_PACKAGES}`, // unresolved bare specifier
  '\\.proto$',
  '(^|/)proto/',
];

/** What built-in plugins and providers may import from src/: the public plugin API and the domain. */
const PUBLIC_API = ['^src/plugins/api\\.ts$', '^src/index\\.ts$', '^src/domain/'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycle among src/** and plugins/** (type-only imports included). Break the cycle, e.g. move the shared declaration inward (src/domain).',
      from: { path: '^(src|plugins)/' },
      to: { circular: true },
    },
    {
      name: 'envoy-protos-only-in-src-envoy',
      severity: 'error',
      comment: 'gRPC, protobufjs and Envoy .proto files are an implementation detail of src/envoy/**; everything else talks to it through plain TypeScript types.',
      from: { path: '^(src|plugins)/', pathNot: '^src/envoy/' },
      to: { path: ENVOY_WIRE },
    },
    {
      name: 'plugin-only-public-api',
      severity: 'error',
      comment: 'A built-in plugin may import from src/ only the public plugin API (src/plugins/api.ts, src/index.ts) and src/domain/**.',
      from: { path: '^plugins/' },
      to: { path: '^src/', pathNot: PUBLIC_API },
    },
    {
      name: 'plugin-only-own-folder',
      severity: 'error',
      comment: 'A built-in plugin may import files inside its own folder only, never another plugin.',
      from: { path: '^plugins/([^/]+)/' },
      to: { path: '^plugins/', pathNot: '^plugins/$1/' },
    },
    {
      name: 'provider-only-public-api',
      severity: 'error',
      comment: 'A provider may import from src/ only other providers (src/providers/**), the public plugin API (src/plugins/api.ts, src/index.ts) and src/domain/**.',
      from: { path: '^src/providers/' },
      to: { path: '^src/', pathNot: [...PUBLIC_API, '^src/providers/'] },
    },
    {
      name: 'surface-is-pure',
      severity: 'error',
      comment: 'A client surface (src/surfaces/**) only translates bodies: it imports src/domain/** and src/surfaces/** only (no other src/ module, no package, no Node built-in: no I/O).',
      from: { path: '^src/surfaces/' },
      to: { pathNot: ['^src/domain/', '^src/surfaces/'] },
    },
    {
      name: 'domain-is-innermost',
      severity: 'error',
      comment: 'src/domain/** is the innermost layer: it imports nothing outside src/domain/** (no other src/ module, no package, no Node built-in).',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that cannot be resolved leaves a hole in the graph the rules above are checked on. Fix the path (or install the package).',
      from: { path: '^(src|plugins)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Only node_modules entries are recorded (as `to`), never cruised into.
    doNotFollow: { path: '(^|/)node_modules/' },
    // Build output and tests are not part of the architecture.
    exclude: { path: ['(^|/)dist/', '^test/', '\\.(test|spec)\\.ts$'] },
    // Keep type-only imports and imports used only as types as edges.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.cjs', '.mjs', '.json', '.node'],
    },
    cache: false,
  },
};
