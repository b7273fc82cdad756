// GraphQL Code Generator: TypeScript types for the schema and for the operations in src/operations.graphql.
// SCHEMA is the live server's /graphql URL (introspection) or a path to schema.graphql; OUT_DIR where to write:
// schema.ts (every type of the schema) and operations.ts (typed documents and results of the operations).
import type { CodegenConfig } from '@graphql-codegen/cli';

const outDir = process.env.OUT_DIR ?? 'generated';
const shared = {
  scalars: { DateTime: 'string', JSON: 'unknown', Upload: 'File' },
  enumsAsTypes: true,
  useTypeImports: true,
  // From an introspected schema codegen writes no doc comment on scalars (it reads them from SDL nodes), so
  // with descriptions on, the two outputs would differ in two comments; without, they must be identical.
  disableDescriptions: true,
};

const config: CodegenConfig = {
  overwrite: true,
  silent: true,
  schema: process.env.SCHEMA,
  documents: 'src/operations.graphql',
  generates: {
    [`${outDir}/schema.ts`]: { plugins: ['typescript'], config: shared },
    [`${outDir}/operations.ts`]: { plugins: ['typescript-operations', 'typed-document-node'], config: shared },
  },
};
export default config;
