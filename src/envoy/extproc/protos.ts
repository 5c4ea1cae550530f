import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';

/**
 * Envoy's API protos come from @grpc/grpc-js-xds, which ships envoy-api, xds, googleapis and
 * protoc-gen-validate; loading them from the installed package keeps third-party files out
 * of this repository.
 */
const depsDir = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
export const PROTO_INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(depsDir, d));

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: PROTO_INCLUDE_DIRS,
};

const cache = new Map<string, grpc.GrpcObject>();

/** Loads (once) the given proto files and returns the package tree. */
export function loadProtos(files: string[]): grpc.GrpcObject {
  const key = files.join(',');
  let pkg = cache.get(key);
  if (!pkg) {
    pkg = grpc.loadPackageDefinition(protoLoader.loadSync(files, LOADER_OPTIONS));
    cache.set(key, pkg);
  }
  return pkg;
}

export function serviceDefinition(file: string, dottedService: string): grpc.ServiceDefinition {
  const pkg = loadProtos([file]);
  const ctor = dottedService.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], pkg) as grpc.ServiceClientConstructor;
  return ctor.service;
}

/**
 * A protobufjs Root (field names as in the .proto files) with the given files, resolved. The
 * hot-path codecs read their message types from it; `patch` may add fields before resolving.
 */
export function loadProtoRoot(files: string[], patch?: (root: protobuf.Root) => void): protobuf.Root {
  // validate.proto imports descriptor.proto: make sure protobufjs has it (proto-loader registers
  // it too when loaded, but this should not depend on load order).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const descriptor = require('protobufjs/google/protobuf/descriptor.json') as { nested: { google: { nested: { protobuf: { nested: Record<string, unknown> } } } } };
  protobuf.common('descriptor', descriptor.nested.google.nested.protobuf.nested);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of PROTO_INCLUDE_DIRS) {
      const full = path.join(dir, target);
      if (fs.existsSync(full)) return full;
    }
    return target;
  };
  root.loadSync(files, { keepCase: true });
  patch?.(root);
  root.resolveAll();
  return root;
}
