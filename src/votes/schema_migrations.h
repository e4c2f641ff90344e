// The database schema as an ordered list of migrations, generated at build
// time from db/NNN_name.sql (see embed_migrations.cmake), so a program needs
// no path to db/ at run time.
#pragma once

#include <vector>

namespace beacon::votes {

struct SchemaMigration {
  int version;       // NNN from the file name; versions run 1, 2, ... without gaps
  const char* name;  // the file name, for error messages
  const char* sql;   // the file's statements, run in one transaction
};

// Ascending by version. The last version is the schema this build expects.
const std::vector<SchemaMigration>& SchemaMigrations();

}  // namespace beacon::votes
