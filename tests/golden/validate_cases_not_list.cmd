validate --published tests/inputs/published/cases_not_list.yaml
