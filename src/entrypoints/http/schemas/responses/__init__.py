"""Response shapes, for the API document, a module for each part of the contract. The
documents themselves are built by the domain (``Event.document``) and ``http.documents``;
schemathesis checks in CI that every response the API gives matches what these schemas
say."""
