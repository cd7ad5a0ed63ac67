import { DuckDBInstance } from "@duckdb/node-api";
import { ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS } from "../../local/queryFunctions";
import { INSTANCE_OPTIONS } from "../../local/readOnlyQuery";

/**
 * The rest of DuckDB's catalogue: functions no query may call by name. Files (read_*, glob,
 * parquet_*), SQL given as text (query, query_table, json_serialize_plan, json_serialize_sql,
 * json_execute_serialized_sql, sql_auto_complete), the instance, its logs, profiling, settings,
 * sequences and secrets, the catalogue's own table functions, pragmas, and internal functions.
 */
const REFUSED_FUNCTION_NAMES = `
  __internal_compress_integral_ubigint __internal_compress_integral_uinteger __internal_compress_integral_usmallint
  __internal_compress_integral_utinyint __internal_compress_string_hugeint __internal_compress_string_ubigint __internal_compress_string_uhugeint
  __internal_compress_string_uinteger __internal_compress_string_usmallint __internal_compress_string_utinyint __internal_decompress_integral_bigint
  __internal_decompress_integral_hugeint __internal_decompress_integral_integer __internal_decompress_integral_smallint
  __internal_decompress_integral_ubigint __internal_decompress_integral_uhugeint __internal_decompress_integral_uinteger
  __internal_decompress_integral_usmallint __internal_decompress_string add_parquet_key all_profiling_output arrow_scan arrow_scan_dumb check_peg_parser
  checkpoint collations copy_database currval database_list database_size disable_checkpoint_on_shutdown disable_logging disable_object_cache
  disable_optimizer disable_peg_parser disable_print_progress_bar disable_profile disable_profiling disable_progress_bar disable_verification
  disable_verify_external disable_verify_fetch_row disable_verify_parallelism disable_verify_serializer duckdb_approx_database_count duckdb_columns
  duckdb_connection_count duckdb_constraints duckdb_coordinate_systems duckdb_databases duckdb_dependencies duckdb_extensions duckdb_external_file_cache
  duckdb_functions duckdb_indexes duckdb_keywords duckdb_log_contexts duckdb_logs duckdb_logs_parsed duckdb_memory duckdb_optimizers
  duckdb_prepared_statements duckdb_profiling_settings duckdb_schemas duckdb_secret_types duckdb_secrets duckdb_sequences duckdb_settings
  duckdb_table_sample duckdb_tables duckdb_temporary_files duckdb_types duckdb_variables duckdb_views enable_checkpoint_on_shutdown enable_logging
  enable_object_cache enable_optimizer enable_peg_parser enable_print_progress_bar enable_profile enable_profiling enable_progress_bar
  enable_verification extension_versions force_checkpoint functions glob histogram_values icu_calendar_names import_database json_deserialize_sql
  json_execute_serialized_sql json_serialize_plan json_serialize_sql metadata_info nextval parquet_bloom_probe parquet_file_metadata
  parquet_full_metadata parquet_kv_metadata parquet_metadata parquet_scan parquet_schema pg_timezone_names platform pragma_collations
  pragma_database_size pragma_metadata_info pragma_platform pragma_show pragma_storage_info pragma_table_info pragma_user_agent pragma_version query
  query_table read_blob read_csv read_csv_auto read_duckdb read_json read_json_auto read_json_objects read_json_objects_auto read_ndjson
  read_ndjson_auto read_ndjson_objects read_parquet read_text repeat_row seq_scan setseed show show_databases show_tables show_tables_expanded sniff_csv
  sql_auto_complete storage_info summary table_info test_all_types test_vector_types truncate_duckdb_logs user_agent verify_external verify_fetch_row
  verify_parallelism verify_serializer which_secret write_log
`;
const REFUSED: ReadonlySet<string> = new Set(REFUSED_FUNCTION_NAMES.split(/\s+/).filter(Boolean));

/** Each function name of DuckDB's catalogue, with its kinds (scalar, aggregate, macro, table, table_macro, pragma). */
let catalogue: Map<string, Set<string>>;

beforeAll(async () => {
  const instance = await DuckDBInstance.create(":memory:", INSTANCE_OPTIONS);
  const connection = await instance.connect();
  try {
    const rows = (await connection.runAndReadAll("SELECT DISTINCT function_name, function_type FROM duckdb_functions()")).getRows();
    catalogue = new Map();
    for (const [name, type] of rows) catalogue.set(String(name), (catalogue.get(String(name)) ?? new Set()).add(String(type)));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

it("sorts every function of DuckDB's catalogue into allowed or refused, so a function a new version adds fails here until it is sorted", () => {
  const unsorted = [...catalogue.keys()].filter((name) => !ALLOWED_FUNCTIONS.has(name) && !ALLOWED_TABLE_FUNCTIONS.has(name) && !REFUSED.has(name));
  expect(unsorted).toEqual([]);
  expect([...REFUSED].filter((name) => ALLOWED_FUNCTIONS.has(name) || ALLOWED_TABLE_FUNCTIONS.has(name))).toEqual([]);
  // Nothing sorted that DuckDB no longer has.
  expect([...ALLOWED_FUNCTIONS, ...ALLOWED_TABLE_FUNCTIONS, ...REFUSED].filter((name) => !catalogue.has(name))).toEqual([]);
});

it("allows as table functions only DuckDB's table functions, and refuses every function that takes SQL as text", () => {
  for (const name of ALLOWED_TABLE_FUNCTIONS) expect([name, catalogue.get(name)?.has("table")]).toEqual([name, true]);
  for (const name of ["json_serialize_plan", "json_serialize_sql", "json_execute_serialized_sql", "query", "query_table", "sql_auto_complete"]) {
    expect([name, REFUSED.has(name)]).toEqual([name, true]);
  }
});
