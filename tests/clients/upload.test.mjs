// apollo-upload-client (UploadHttpLink) with Apollo Client against the live server: a contract upload exactly as
// that library sends it (GraphQL multipart request spec), the CSRF rule, a refused type, and the signed download.
// Run by tests/clients/test_upload_client.py with API_URL, TOKEN, CUSTOMER_ID and PDF_PATH set.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ApolloClient, InMemoryCache, gql } from '@apollo/client';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';

const UPLOAD = gql`
  mutation UploadContract($input: UploadContractInput!) {
    uploadContract(input: $input) {
      contract { id filename contentType size sha256 downloadUrl }
      errors { code field }
    }
  }
`;

const client = (headers) =>
  new ApolloClient({
    link: new UploadHttpLink({ uri: process.env.API_URL, headers: { authorization: `Bearer ${process.env.TOKEN}`, ...headers } }),
    cache: new InMemoryCache(),
  });

const pdf = readFileSync(process.env.PDF_PATH);

test('a contract uploads through apollo-upload-client and downloads again', async () => {
  const file = new File([pdf], 'Rahmenvertrag 2026.pdf', { type: 'application/pdf' });
  const { data } = await client({ 'Apollo-Require-Preflight': 'true' }).mutate({
    mutation: UPLOAD,
    variables: { input: { customerId: process.env.CUSTOMER_ID, file, title: 'Framework agreement' } },
  });
  assert.deepEqual(data.uploadContract.errors, []);
  const contract = data.uploadContract.contract;
  assert.equal(contract.filename, 'Rahmenvertrag 2026.pdf');
  assert.equal(contract.contentType, 'application/pdf');
  assert.equal(contract.size, pdf.length);

  // no bearer token: the signed URL is the permission (its host is APP_PUBLIC_URL; the test server listens elsewhere)
  const download = await fetch(new URL(new URL(contract.downloadUrl).pathname, process.env.API_URL));
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('content-type'), 'application/pdf');
  assert.match(download.headers.get('content-disposition'), /^attachment; filename="Rahmenvertrag 2026\.pdf"/);
  assert.deepEqual(Buffer.from(await download.arrayBuffer()), pdf);
});

test('a file whose bytes are not an accepted type is UNSUPPORTED_FILE_TYPE', async () => {
  const file = new File(['just some text'], 'contract.pdf', { type: 'application/pdf' });
  const { data } = await client({ 'Apollo-Require-Preflight': 'true' }).mutate({
    mutation: UPLOAD,
    variables: { input: { customerId: process.env.CUSTOMER_ID, file } },
  });
  assert.equal(data.uploadContract.contract, null);
  assert.deepEqual(data.uploadContract.errors, [{ __typename: 'UserError', code: 'UNSUPPORTED_FILE_TYPE', field: ['file'] }]);
});

test('without a CSRF-safe header the multipart request is refused with 400', async () => {
  const file = new File([pdf], 'contract.pdf', { type: 'application/pdf' });
  await assert.rejects(
    client({}).mutate({ mutation: UPLOAD, variables: { input: { customerId: process.env.CUSTOMER_ID, file } } }),
    (error) => error.statusCode === 400,
  );
});
