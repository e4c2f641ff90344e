// The database schemas as ordered lists of migrations, generated at build
// time from db/NNN_name.sql (SQLite) and db/postgresql/NNN_name.sql (see
// embed_migrations.cmake), so a program needs no path to db/ at run time.
#pragma once

#include <vector>

namespace beacon::votes {

struct SchemaMigration {
  int version;       // NNN from the file name; versions run 1, 2, ... without gaps
  const char* name;  // the file name, for error messages
  const char* sql;   // the file's statements, run in one transaction
};

// Ascending by version. The last version is the schema this build expects.
// SQLite's, from db/NNN_name.sql.
const std::vector<SchemaMigration>& SchemaMigrations();
// PostgreSQL's, from db/postgresql/NNN_name.sql; the same rules.
const std::vector<SchemaMigration>& PostgresSchemaMigrations();

}  // namespace beacon::votes
