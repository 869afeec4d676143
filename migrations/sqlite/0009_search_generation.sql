-- A counter every write of the search index advances, in the same
-- transaction: a node replica may reuse facet counts it computed earlier for
-- as long as the generation it read then is still the current one.
CREATE TABLE search_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO search_state (id, generation) VALUES (1, 0);
