-- Accreditations moved to the DID ledger.
DROP TABLE accreditations;
