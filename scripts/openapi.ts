#!/usr/bin/env node
/**
 * Prints the gateway's OpenAPI 3.1 document (what GET /openapi.json serves) without starting
 * anything, e.g. for client generators or a linter:
 *
 *   npm run build && node dist/scripts/openapi.js > openapi.json
 */
import { openApiJson } from '../src/admin/openapi/document';

process.stdout.write(`${JSON.stringify(JSON.parse(openApiJson()), null, 2)}\n`);
