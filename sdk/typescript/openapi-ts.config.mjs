// @hey-api/openapi-ts configuration for run.sh: the spec and the output directory come
// from the environment, so the client is generated afresh (outside the clone) on every run.
const input = process.env.GATEHOUSE_SPEC;
const output = process.env.GATEHOUSE_TS_OUT;
if (!input || !output) {
  throw new Error('GATEHOUSE_SPEC and GATEHOUSE_TS_OUT must be set (run sdk/run.sh)');
}

export default {
  input,
  output: { path: output, importFileExtension: '.js' },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
};
