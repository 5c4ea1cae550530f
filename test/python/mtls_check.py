"""One chat completion through the gateway's mTLS listener with the official `openai` client.

Run by test/e2e/mtls.test.ts with GATEWAY_MTLS_URL, CERT_FILE, KEY_FILE and CA_FILE set.
The client certificate is the credential: no API key is sent.
"""

import os
import ssl

import httpx
import openai
from openai import OpenAI

# httpx 0.28 deprecates `cert=` and ignores it when `verify` is a path: use one SSL context.
tls = ssl.create_default_context(cafile=os.environ["CA_FILE"])
tls.load_cert_chain(os.environ["CERT_FILE"], os.environ["KEY_FILE"])
http_client = httpx.Client(verify=tls)
client = OpenAI(
    base_url=os.environ["GATEWAY_MTLS_URL"] + "/v1",
    http_client=http_client,
    api_key="unused",  # the SDK insists on one; it is not sent (below)
)
reply = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Say hello"}],
    # No Authorization header: the certificate is the credential (a key sent as well would win).
    extra_headers={"Authorization": openai.Omit()},
)
print(reply.choices[0].message.content)
