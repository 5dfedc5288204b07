// Lookups in the core's name tables (activation_table, loss_table, init_table, optimizer_table,
// schedule_table): each entry has an `id`, a `name` and the entry's properties as data.
#pragma once

#include <string>
#include <string_view>

#include "bpcore/types.hpp"

namespace bpcore {

/// The entry of `id` in `table`.
template <class Table, class Id>
const auto& info_in(const Table& table, Id id, const char* what) {
  for (const auto& info : table)
    if (info.id == id) return info;
  throw ArgumentError(std::string("unknown ") + what + " id");
}

/// The name of `id` in `table`.
template <class Table, class Id>
std::string_view name_in(const Table& table, Id id, const char* what) {
  return info_in(table, id, what).name;
}

/// The names of `table`'s entries, in table order, joined by ", ".
template <class Table>
std::string names_of(const Table& table) {
  std::string out;
  for (const auto& info : table) out += (out.empty() ? "" : ", ") + std::string(info.name);
  return out;
}

/// The id named `name` in `table`; ArgumentError listing the valid names otherwise.
template <class Table>
auto id_in(const Table& table, std::string_view name, const char* what) {
  for (const auto& info : table)
    if (info.name == name) return info.id;
  throw ArgumentError("unknown " + std::string(what) + " '" + std::string(name) +
                      "'; expected one of: " + names_of(table));
}

}  // namespace bpcore
