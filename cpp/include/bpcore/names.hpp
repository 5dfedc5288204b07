// Lookups in the core's name tables (activation_table, loss_table, init_table, optimizer_table,
// schedule_table): each entry has an `id` and a `name`.
#pragma once

#include <string>
#include <string_view>

#include "bpcore/types.hpp"

namespace bpcore {

/// The name of `id` in `table`.
template <class Table, class Id>
std::string_view name_in(const Table& table, Id id, const char* what) {
  for (const auto& info : table)
    if (info.id == id) return info.name;
  throw ArgumentError(std::string("unknown ") + what + " id");
}

/// The id named `name` in `table`; ArgumentError listing the valid names otherwise.
template <class Table>
auto id_in(const Table& table, std::string_view name, const char* what) {
  std::string valid;
  for (const auto& info : table) {
    if (info.name == name) return info.id;
    valid += (valid.empty() ? "" : ", ") + std::string(info.name);
  }
  throw ArgumentError("unknown " + std::string(what) + " '" + std::string(name) +
                      "'; expected one of: " + valid);
}

}  // namespace bpcore
